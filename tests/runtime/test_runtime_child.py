"""A call in a child process: its result, its exception, or its death, never a hang."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from services.runtime.child import Child, ChildProcessFailed, call_in_child

ROOT = Path(__file__).resolve().parents[2]


def test_the_result_comes_back() -> None:
    assert call_in_child("adding", operator.add, 2, 3) == 5
    assert call_in_child("parsing", int, "ff", base=16) == 255
    with Child("summing", preload=("numpy",)) as child:
        assert child.call(np.sum, np.arange(4_000_000, dtype=np.int64)) == 7_999_998_000_000


def test_an_exception_in_the_child_is_raised_with_its_reason() -> None:
    with pytest.raises(ChildProcessFailed) as raised:
        call_in_child("parsing a number", int, "not a number")
    message = str(raised.value)
    assert message.startswith(
        "parsing a number failed in a child process: "
        "ValueError: invalid literal for int() with base 10: 'not a number'"
    )
    assert "the child's traceback:" in message


def test_a_module_that_fails_to_preload_is_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_module.py").write_text("raise ImportError('no such backend')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the child resolves imports as the parent does
    with (
        Child("adding", preload=("broken_module",)) as child,
        pytest.raises(ChildProcessFailed, match="adding failed in a child process: ImportError"),
    ):
        child.call(operator.add, 2, 3)


def test_a_child_that_dies_without_answering_is_reported_with_its_exit_code() -> None:
    with pytest.raises(ChildProcessFailed, match=r"exiting failed: .* exited with code 3"):
        call_in_child("exiting", os._exit, 3)


@pytest.mark.timeout(60)
def test_a_child_that_dies_before_reading_a_large_call_does_not_hang_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 32 MB, far more than a socket holds: the send must fail, not wait for a reader.
    (tmp_path / "dies_on_import.py").write_text("import os\nos._exit(7)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with (
        Child("summing", preload=("dies_on_import",)) as child,
        pytest.raises(ChildProcessFailed, match="exited with code 7 before answering"),
    ):
        child.call(np.sum, np.zeros(4_000_000))


def test_a_result_that_does_not_pickle_is_reported() -> None:
    with pytest.raises(ChildProcessFailed, match="its result could not be sent back"):
        call_in_child("opening", open, os.devnull)


def test_a_child_left_unused_is_stopped() -> None:
    with Child("waiting") as child:
        process = child._process
    assert process.returncode is not None


def test_the_child_does_not_run_the_parents_main_script_again(tmp_path: Path) -> None:
    # No `if __name__ == "__main__"` guard: a multiprocessing "spawn" child would run this
    # script again on start (and fail, as it would start a child of its own).
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import operator
            from services.runtime.child import call_in_child

            print("main ran")
            print(call_in_child("adding", operator.add, 2, 3))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["main ran", "5"]
