"""Without ../shared/data, a test that needs the real data is skipped and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.conftest


def test_missing_shared_data_skips_with_a_reason_that_names_the_folder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "shared" / "data"
    monkeypatch.setattr(tests.conftest, "SHARED_DATA", missing)
    with pytest.raises(pytest.skip.Exception) as skipped:
        request.getfixturevalue("shared_data")
    reason = str(skipped.value)
    assert "../shared/data" in reason and "not part of the project" in reason
    assert str(missing) in reason
