"""The README's "Where a rule is computed" table is a claim: every rule id of POLICY.md is listed,
and every model (or macro) the table names for a rule cites that rule id in its SQL or YAML."""

from __future__ import annotations

import re

import pytest
import yaml

from huinong import REPO_ROOT

# The rule ids of POLICY.md (the spec lives outside the repository; a clone has only this list).
POLICY_RULE_IDS = (
    "R-G1",
    *(f"R-S{number}" for number in range(1, 8)),
    *(f"R-C{number}" for number in range(1, 4)),
    *(f"R-L{number}" for number in range(1, 5)),
    *(f"R-B{number}" for number in range(1, 5)),
    "R-T1",
    "R-T2",
    *(f"R-M{number}" for number in range(1, 6)),
    *(f"R-X{number}" for number in range(1, 6)),
)
POLICY_MD = REPO_ROOT.parent / "shared" / "spec" / "POLICY.md"
TABLE_HEADING = "Where a rule is computed"

# R-S1, and ranges written R-X1 … R-X5 or R-X1..R-X5 (every id between the two).
RULE_ID = re.compile(r"R-([A-Z])(\d+)")
RULE_RANGE = re.compile(r"R-([A-Z])(\d+)\s*(?:…|\.\.\.?)\s*R-\1(\d+)")


def cited_rule_ids(text: str) -> set[str]:
    """Every rule id a text names, ranges expanded."""
    ids = {f"R-{letter}{number}" for letter, number in RULE_ID.findall(text)}
    for letter, first, last in RULE_RANGE.findall(text):
        ids.update(f"R-{letter}{number}" for number in range(int(first), int(last) + 1))
    return ids


def rule_table(readme: str) -> list[tuple[set[str], list[str]]]:
    """The rows of the README's rule table: (rule ids, names in backticks of the last column)."""
    lines = readme[readme.index(TABLE_HEADING) :].splitlines()
    rows = []
    in_table = False
    for line in lines[1:]:
        if line.startswith("|"):
            in_table = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if set(cells[0]) <= {"-", " ", ":"} or cells[0] == "rules":
                continue
            rows.append((cited_rule_ids(cells[0]), re.findall(r"`([a-z_0-9]+)`", cells[-1])))
        elif in_table:
            break
    return rows


def _model_yaml(name: str) -> str:
    """The YAML entry of a model (description, columns, tests) and its unit tests, as text."""
    entries = []
    for path in (REPO_ROOT / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries += [entry for entry in document.get("models", []) if entry["name"] == name]
        entries += [entry for entry in document.get("unit_tests", []) if entry["model"] == name]
    return yaml.safe_dump(entries, allow_unicode=True)


def _macro_text(name: str) -> str | None:
    """A macro's definition with the comment just above it, or None when there is no such macro."""
    for path in (REPO_ROOT / "macros").glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        found = re.search(
            rf"(\{{#-?(?:(?!#\}}).)*-?#\}}\s*)?\{{%-?\s*macro\s+{name}\(.*?endmacro",
            text,
            flags=re.DOTALL,
        )
        if found:
            return found.group(0)
    return None


def home_text(name: str) -> str | None:
    """What a name in the table stands for: a model's SQL and YAML, or a macro's definition."""
    models = list((REPO_ROOT / "models").rglob(f"{name}.sql"))
    if models:
        return models[0].read_text(encoding="utf-8") + "\n" + _model_yaml(name)
    return _macro_text(name)


@pytest.fixture(scope="module")
def table() -> list[tuple[set[str], list[str]]]:
    return rule_table((REPO_ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_table_is_read(table):
    assert len(table) >= 10
    assert ({"R-X1", "R-X2", "R-X3", "R-X4", "R-X5"}, ["loan_compliance"]) in table


def test_every_policy_rule_has_a_home_in_the_table(table):
    listed = set().union(*(ids for ids, _ in table))
    missing = [rule for rule in POLICY_RULE_IDS if rule not in listed]
    assert not missing, f"rules missing from README's table: {missing}"
    unknown = sorted(listed - set(POLICY_RULE_IDS))
    assert not unknown, f"the table names rules POLICY.md does not have: {unknown}"


def test_every_home_cites_its_rules(table):
    problems = []
    for ids, names in table:
        assert names, f"no model named for {sorted(ids)}"
        for name in names:
            text = home_text(name)
            if text is None:
                problems.append(f"{name}: neither a model nor a macro")
                continue
            uncited = sorted(ids - cited_rule_ids(text))
            if uncited:
                problems.append(f"{name} does not cite {uncited}")
    assert not problems, "\n".join(problems)


def test_the_rule_list_is_policy_md_s():
    """The committed list equals the ids POLICY.md defines, when the spec is beside the repo."""
    if not POLICY_MD.exists():
        pytest.skip("POLICY.md is not beside the repository")
    assert cited_rule_ids(POLICY_MD.read_text(encoding="utf-8")) == set(POLICY_RULE_IDS)


def test_a_range_and_a_missing_citation_are_told_apart():
    assert cited_rule_ids("R-M1..R-M3 and R-X2") == {"R-M1", "R-M2", "R-M3", "R-X2"}
    assert cited_rule_ids("R-X1 … R-X5") == {f"R-X{number}" for number in range(1, 6)}
    rows = rule_table("Where a rule is computed\n\n| rules | model |\n|---|---|\n| R-B3 | `x` |\n")
    assert rows == [({"R-B3"}, ["x"])]
    assert "R-B3" not in cited_rule_ids(home_text("loan_status"))


def test_every_model_cites_a_rule_or_is_plumbing():
    """A model that computes a policy figure cites its rule; only staging and reporting marts
    (quarantine, load_report, policy_profile) may cite none."""
    plumbing = {"quarantine", "load_report", "policy_profile"}
    silent = [
        path.stem
        for path in (REPO_ROOT / "models").rglob("*.sql")
        if "staging" not in path.parts
        and path.stem not in plumbing
        and not cited_rule_ids(home_text(path.stem) or "")
    ]
    assert not silent, f"models that cite no rule: {silent}"


def test_intermediate_models_never_read_marts():
    """Data flows one way: staging -> intermediate -> marts (a mart may read a mart)."""
    marts = {path.stem for path in (REPO_ROOT / "models" / "marts").glob("*.sql")}
    readers = [
        *(REPO_ROOT / "models" / "intermediate").glob("*.sql"),
        *(REPO_ROOT / "macros").glob("*.sql"),
    ]
    inversions = [
        f"{path.name} reads {name}"
        for path in readers
        for name in re.findall(r"ref\(\s*'([a-z_0-9]+)'\s*\)", path.read_text(encoding="utf-8"))
        if name in marts
    ]
    assert marts and not inversions, inversions
