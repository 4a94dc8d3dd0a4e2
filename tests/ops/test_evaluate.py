"""heartbeats_judge: one state for the processes of a family from their heartbeat rows. Pure:
unsaved rows, no database."""

from datetime import timedelta

from django.utils import timezone

from ops.evaluate import heartbeats_judge
from ops.heartbeat import STOPPED
from ops.models import Heartbeat

NOW = timezone.now()
LATE = timedelta(minutes=10)


def beat(member: str, *, minutes_ago: float = 0, connected: bool = True, detail: str = "", since: float = 60):
    """A row of member `member` beating `minutes_ago`, its `connected` unchanged for `since` minutes."""
    return Heartbeat(
        name=f"mqtt-subscriber:{member}",
        at=NOW - timedelta(minutes=minutes_ago),
        connected=connected,
        since=NOW - timedelta(minutes=since),
        detail=detail,
    )


def judge(*beats: Heartbeat):
    return heartbeats_judge(beats=list(beats), now=NOW, late=LATE, noun="subscriber")


def test_every_member_connected_is_up_and_named():
    heard = judge(beat("sub-a"), beat("sub-b", minutes_ago=1))
    assert (heard.state, heard.connected, heard.beating) == ("up", 2, 2)
    assert heard.evidence == "2 of 2 subscribers connected (sub-a, sub-b)"


def test_a_member_that_stopped_on_purpose_is_no_outage_but_is_named():
    heard = judge(beat("sub-a"), beat("sub-b", minutes_ago=14, connected=False, detail=STOPPED, since=14))
    assert heard.state == "up" and heard.connected == 1
    assert heard.evidence.startswith("1 of 2 subscribers connected (sub-a); sub-b: stopped ")
    assert heard.evidence.endswith("14 min ago")


def test_a_member_silent_past_three_beats_is_late_though_the_others_beat():
    # Killed without a word: its row still says connected; the others' beats must not hide it.
    heard = judge(beat("sub-a"), beat("sub-b", minutes_ago=14), beat("sub-c"))
    assert heard.state == "late" and heard.connected == 2
    assert heard.evidence.startswith("2 of 3 subscribers connected (sub-a, sub-c); sub-b: no heartbeat since ")
    assert heard.evidence.endswith("14 min ago")


def test_a_member_cut_off_from_the_broker_is_late_with_its_reason():
    heard = judge(beat("sub-a"), beat("sub-b", connected=False, detail="disconnected: Unspecified error", since=1))
    assert heard.state == "late"
    assert "sub-b: disconnected from the broker since" in heard.evidence and "Unspecified error" in heard.evidence


def test_none_connected_is_late_from_the_newest_change_then_down():
    stopped = beat("sub-a", minutes_ago=2, connected=False, detail=STOPPED, since=2)
    cut_off = beat("sub-b", connected=False, detail="disconnected: Connection refused", since=1)
    heard = judge(stopped, cut_off)
    assert (heard.state, heard.connected, heard.beating) == ("late", 0, 2)
    assert heard.evidence.startswith("0 of 2 subscribers connected; sub-a: stopped ")
    # The group lost its last connection when sub-a stopped: down once that is LATE old.
    cut_off_long = [beat(m, connected=False, detail="disconnected: Connection refused", since=11) for m in "ab"]
    assert judge(*cut_off_long).state == "down"


def test_none_beating_is_down_at_once():
    heard = judge(beat("sub-a", minutes_ago=4, connected=False, detail=STOPPED, since=4), beat("sub-b", minutes_ago=5))
    assert (heard.state, heard.connected, heard.beating) == ("down", 0, 0)


def test_one_process_alone_keeps_its_plain_words():
    alone = Heartbeat(name="mqtt-subscriber", at=NOW, connected=True, since=NOW - timedelta(minutes=5))
    heard = judge(alone)
    assert heard.state == "up" and heard.evidence.startswith("connected since ") and "of" not in heard.evidence
