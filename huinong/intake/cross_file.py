"""Rules across files: references (village, borrower, loan), the repayment plan against its loan,
and the cascade that quarantines the dependants of a quarantined row with that reason.

Every rule reads the run's validated tables and appends its reasons to
``FOUND_REASONS`` (huinong.intake.tables); only rows in force take part (not
superseded by a later delivery's row, not a rejected correction).
"""

from __future__ import annotations

import duckdb

from huinong.intake.keys import DETAIL_ROWS
from huinong.intake.tables import FOUND_REASONS, validated
from huinong.schema import BORROWER_TYPES


def _flagged(name: str) -> str:
    return f"(select distinct _seq, _row from {FOUND_REASONS} where source_file = '{name}')"


def _settled(name: str) -> str:
    """Rows of a file loaded so far: in force, passing on their own, no reason found since."""
    return (
        f"(select v.* from {validated(name)} v anti join {_flagged(name)} x using (_seq, _row) "
        f"where not v._superseded and not v._rejected and v._own_ok)"
    )


def _current(name: str) -> str:
    return f"(select * from {validated(name)} where not _superseded and not _rejected)"


def cross_file_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Apply every rule across files, in dependency order: villages, borrowers, plans, loans'
    dependants, repayment dates."""
    _village_references(con)
    _borrower_references(con)
    _repayment_plans(con)
    _loan_dependants(con)
    _repayment_dates(con)


def _village_references(con: duckdb.DuckDBPyConnection) -> None:
    """Households and entities name a village of the villages file that was loaded."""
    for dependant in ("households", "entities"):
        con.execute(
            f"""insert into {FOUND_REASONS}
            select '{dependant}', row._seq, row._row,
                case when known.village_code is not null
                    then '所属行政村已被隔离：' || row.village_code
                    else '行政村代码在行政区划中不存在：' || row.village_code end
            from {_current(dependant)} row
            left join (select distinct village_code from {_settled("villages")}) ok
                using (village_code)
            left join (select distinct village_code from {_current("villages")}) known
                using (village_code)
            where ok.village_code is null and regexp_full_match(row.village_code, '\\d{{12}}')
            order by row._seq, row._row"""
        )


def _borrower_references(con: duckdb.DuckDBPyConnection) -> None:
    """A loan's borrower is a loaded household or entity, as its borrower_type says."""
    household, entity = BORROWER_TYPES
    borrowers = (
        (household, "households", "household_id", "借款农户", "农户表"),
        (entity, "entities", "entity_id", "借款经营主体", "经营主体表"),
    )
    for borrower_type, table, key, who, where in borrowers:
        con.execute(
            f"""insert into {FOUND_REASONS}
            select 'loans', loan._seq, loan._row,
                case when known.{key} is not null
                    then '{who}已被隔离：' || loan.borrower_id
                    else '借款人编号在{where}中不存在：' || loan.borrower_id end
            from {_current("loans")} loan
            left join (select distinct {key} from {_settled(table)}) ok
                on ok.{key} = loan.borrower_id
            left join (select distinct {key} from {_current(table)}) known
                on known.{key} = loan.borrower_id
            where loan.borrower_type = '{borrower_type}' and ok.{key} is null
            order by loan._seq, loan._row"""
        )


def _repayment_plans(con: duckdb.DuckDBPyConnection) -> None:
    """A loan has a complete plan whose principal sums to its amount."""
    # A quarantined instalment leaves the plan incomplete, so its loan cannot be read either.
    con.execute(
        f"""insert into {FOUND_REASONS}
        with instalments as (
            select row.*, not row._own_ok or x._row is not null as bad
            from {_current("schedule")} row
            left join {_flagged("schedule")} x using (_seq, _row)
            where row.loan_id is not null
        ),
        plan as (
            select loan_id,
                count(*) filter (where bad) as bad_rows,
                list(coalesce(installment_no::varchar, _text_installment_no, '?')
                     order by installment_no, _row) filter (where bad) as bad_numbers,
                sum(principal_due) filter (where not bad) as principal_total
            from instalments
            group by loan_id
        )
        select 'loans', loan._seq, loan._row,
            case when plan.loan_id is null then '还款计划中没有该贷款的任何期次'
                when plan.bad_rows > 0 then '还款计划不完整：第 '
                    || array_to_string(list_slice(plan.bad_numbers, 1, {DETAIL_ROWS}), '、')
                    || case when plan.bad_rows > {DETAIL_ROWS} then ' 等 ' || plan.bad_rows
                        else '' end
                    || ' 期已被隔离'
                when loan.amount is not null and plan.principal_total <> loan.amount
                    then '还款计划应还本金合计与贷款金额不符：合计 '
                    || format('{{:,.2f}}', plan.principal_total) || ' 元，贷款金额 '
                    || format('{{:,.2f}}', loan.amount) || ' 元'
            end as reason
        from {_current("loans")} loan left join plan using (loan_id)
        where loan.loan_id is not null and reason is not null
        order by loan._seq, loan._row"""
    )


def _loan_dependants(con: duckdb.DuckDBPyConnection) -> None:
    """Instalments and payments name a known loan, and fall with a quarantined one."""
    quarantined_loans = (
        f"(select distinct loan_id from {_current('loans')} loan "
        f"left join {_flagged('loans')} x using (_seq, _row) "
        f"where loan.loan_id is not null and (not loan._own_ok or x._row is not null))"
    )
    for dependant in ("schedule", "repayments"):
        # A row already quarantined for its own sake is not told again about its loan.
        con.execute(
            f"""insert into {FOUND_REASONS}
            select '{dependant}', row._seq, row._row,
                case when known.loan_id is null then '贷款编号在贷款台账中不存在：' || row.loan_id
                    else '所属贷款已被隔离：' || row.loan_id end
            from {_current(dependant)} row
            left join (select distinct loan_id from {_current("loans")}) known using (loan_id)
            left join {quarantined_loans} gone using (loan_id)
            left join {_flagged(dependant)} x using (_seq, _row)
            where row.loan_id is not null
                and (known.loan_id is null
                     or (gone.loan_id is not null and row._own_ok and x._row is null))
            order by row._seq, row._row"""
        )


def _repayment_dates(con: duckdb.DuckDBPyConnection) -> None:
    """No payment before its loan was disbursed."""
    con.execute(
        f"""insert into {FOUND_REASONS}
        select 'repayments', payment._seq, payment._row,
            '还款日期早于放款日期：' || payment._text_paid_on || ' / ' || loan._text_disbursed_on
        from {_current("repayments")} payment
        join {_settled("loans")} loan using (loan_id)
        where payment.paid_on < loan.disbursed_on
        order by payment._seq, payment._row"""
    )
