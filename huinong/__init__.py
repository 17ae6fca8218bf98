"""惠农信用看板: the analytics side of a county's 金融扶贫 credit programme."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
