"""The rule catalogue: every rule documented, every audience given."""

import re
from pathlib import Path

from analytics.rules import RULES

README = Path(__file__).parents[2] / "README.md"


def test_every_rule_is_listed_in_the_readme():
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", README.read_text(), re.MULTILINE))
    assert documented == set(RULES)


def test_only_data_quality_rules_reach_nobody():
    silent = {rule.id for rule in RULES.values() if rule.is_record}
    assert silent == {"quality.implausible", "quality.device", "quality.clock"}
