"""charm/databags.py: only the keys whose value differs are written."""

from __future__ import annotations

import databags


class RecordingBag(dict):
    """A databag that records each write (each would be a relation-set call)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes: list[str] = []

    def __setitem__(self, key, value):
        self.writes.append(key)
        super().__setitem__(key, value)


def test_only_the_keys_that_differ_are_written():
    # Arrange
    bag = RecordingBag(same="1", other="old")

    # Act
    changed = databags.update(bag, {"same": "1", "other": "new", "added": "x"})

    # Assert
    assert changed == ["other", "added"]
    assert bag.writes == ["other", "added"]
    assert bag == {"same": "1", "other": "new", "added": "x"}


def test_an_empty_value_for_an_absent_key_is_not_written():
    # Juju reads an absent key as "": writing "" would be a call that changes nothing.
    bag = RecordingBag()

    assert databags.update(bag, {"absent": ""}) == []
    assert bag.writes == []
