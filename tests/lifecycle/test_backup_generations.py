"""The generation policy (pure): which backups ``prune`` keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.lifecycle.backup import choose_generations

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # a Monday


def _series(days: int, per_day: int = 1):
    items = []
    for day in range(days):
        for i in range(per_day):
            when = START + timedelta(days=day, hours=6 * i)
            items.append((f"b{day:03d}-{i}", when))
    return items


def test_default_policy_keeps_7_daily_and_4_weekly():
    items = _series(60)
    kept = choose_generations(items, keep_daily=7, keep_weekly=4)
    daily = sorted(n for n, tags in kept.items() if "daily" in tags)
    weekly = sorted(n for n, tags in kept.items() if "weekly" in tags)
    assert daily == [f"b{d:03d}-0" for d in range(53, 60)]
    # Newest backup of each of the last 4 ISO weeks: day 59 (current week), then each week's Sunday.
    assert weekly == ["b041-0", "b048-0", "b055-0", "b059-0"]
    assert kept["b059-0"] == ["latest", "daily", "weekly"]
    assert len(kept) == 7 + 2  # b055 and b059 are daily too; b041 and b048 are kept as weeklies only


def test_several_backups_a_day_keep_the_newest_of_each_day():
    kept = choose_generations(_series(3, per_day=4), keep_daily=7, keep_weekly=0)
    assert sorted(kept) == ["b000-3", "b001-3", "b002-3"]


def test_days_without_backups_do_not_count():
    items = [("old", START), ("new", START + timedelta(days=30))]
    assert sorted(choose_generations(items, keep_daily=2, keep_weekly=0)) == ["new", "old"]


def test_zero_policy_still_keeps_the_newest_backup():
    assert choose_generations(_series(5), keep_daily=0, keep_weekly=0) == {"b004-0": ["latest"]}
    assert choose_generations([], keep_daily=7, keep_weekly=4) == {}


def test_days_are_utc_days():
    jst_same_day = [("late", datetime(2026, 1, 5, 23, 30, tzinfo=UTC)), ("early", datetime(2026, 1, 5, 0, 30, tzinfo=UTC))]
    assert sorted(choose_generations(jst_same_day, keep_daily=7, keep_weekly=0)) == ["late"]


@settings(max_examples=200, deadline=None)
@given(offsets=st.lists(st.integers(min_value=0, max_value=24 * 120), min_size=1, max_size=60, unique=True),
       daily=st.integers(min_value=0, max_value=10), weekly=st.integers(min_value=0, max_value=6))
def test_policy_properties(offsets, daily, weekly):
    items = [(f"b{o:05d}", START + timedelta(hours=o)) for o in offsets]
    kept = choose_generations(items, keep_daily=daily, keep_weekly=weekly)
    newest = max(items, key=lambda item: item[1])[0]
    assert newest in kept
    days = {when.date() for _n, when in items}
    weeks = {when.isocalendar()[:2] for _n, when in items}
    assert sum("daily" in t for t in kept.values()) == min(daily, len(days))
    assert sum("weekly" in t for t in kept.values()) == min(weekly, len(weeks))
    assert len(kept) <= 1 + daily + weekly
    # Each kept daily backup is the newest of its day.
    by_name = dict(items)
    for name, tags in kept.items():
        if "daily" in tags:
            day = by_name[name].date()
            assert by_name[name] == max(w for _n, w in items if w.date() == day)
