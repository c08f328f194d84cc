"""Mistakes in the alerts config end in one line naming the key and what to do."""

from __future__ import annotations

import pytest

from listener.errors import ConfigError
from tests.alerts_support import alerts_config

RECEIVER = '[[alerts.receivers]]\nname = "rec"\ntype = "file"\n'
RULE = '[[alerts.rules]]\nname = "r"\nreceivers = ["rec"]\n'


@pytest.mark.parametrize("receiver, rule, expected", [
    ('quiet_hours = { start = "25:00", end = "07:00" }', "",
     "alerts.receivers[0].quiet_hours.start: must be a time like 22:00 (24-hour HH:MM), got '25:00'"),
    ('quiet_hours = { start = "22:00", end = "07:00", timezone = "Mars/Base" }', "",
     "alerts.receivers[0].quiet_hours.timezone: unknown time zone 'Mars/Base'"),
    ("max_per_hour = -1", "", "alerts.receivers[0].max_per_hour: Input should be greater than or equal to 0"),
    ("", 'min_level = "urgent"', "alerts.rules[0].min_level: 'urgent' is not a level in [alerts.levels] "
                                 "(warning, critical)"),
    ("", 'group_by = ["author"]', "alerts.rules[0].group_by[0]: must be one of 'thread', 'brand', 'source', "
                                  "'rule', 'level' or 'kind', got 'author'"),
    ("", 'kinds = ["tweet"]', "alerts.rules[0].kinds[0]: must be one of"),
])
def test_alerts_config_errors_name_the_key(tmp_path, receiver, rule, expected):
    with pytest.raises(ConfigError) as info:
        alerts_config(tmp_path, RECEIVER + receiver, RULE + rule)
    assert str(info.value).startswith("overheard.toml: " + expected)


def test_a_rule_name_used_twice_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        alerts_config(tmp_path, RECEIVER, RULE + "\n" + RULE)
    assert str(info.value) == "overheard.toml: alerts.rules[1].name: rule 'r' is defined twice"


def test_slack_bot_without_channel_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERHEARD_TEST_TOKEN", "xoxb-1")
    with pytest.raises(ConfigError) as info:
        alerts_config(tmp_path, '[[alerts.receivers]]\nname = "s"\ntype = "slack_bot"\n'
                                'token_env = "OVERHEARD_TEST_TOKEN"\n')
    assert str(info.value) == "overheard.toml: alerts.receivers[0].channel: required key is missing"
