"""Atomic writes: whole files or none, with the usual permissions."""

from __future__ import annotations

import os
import stat

import pytest

from mazepolicy.io import atomic_write_bytes, atomic_write_text, atomic_write_with, current_umask


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o000])
def test_written_files_get_0666_minus_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_write_text(tmp_path / "b.json", "{}")
        atomic_write_with(tmp_path / "c.csv", lambda tmp: open(tmp, "w").close())
        atomic_write_bytes(tmp_path / "a.bin", b"again")  # replacing keeps the rule
    finally:
        os.umask(old)
    for name in ("a.bin", "b.json", "c.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert (tmp_path / "a.bin").read_bytes() == b"again"


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    (tmp_path / "keep.txt").write_text("old")

    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_with(tmp_path / "keep.txt", fail)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "old"


def test_output_paths_that_cannot_be_written_are_refused_before_any_write(tmp_path):
    from mazepolicy.io import OutputError, check_output_dir, check_output_file

    (tmp_path / "file").write_text("")
    assert check_output_file(tmp_path / "new" / "deeper" / "x.json", "--json") == (
        tmp_path / "new" / "deeper" / "x.json")  # folders the writer will make
    assert not (tmp_path / "new").exists()  # checking makes nothing
    for path, option, message in (
            ("", "--json", "--json: empty path"),
            (tmp_path, "--csv", "is a directory"),
            (tmp_path / "file" / "x.json", "--json", "is a file, not a folder"),
            ("/proc/x.json", "--plot", "cannot write in /proc")):
        with pytest.raises(OutputError, match=message):
            check_output_file(path, option)
    with pytest.raises(OutputError, match="--out .*file: .* is a file, not a folder"):
        check_output_dir(tmp_path / "file", "--out")
    assert check_output_dir(tmp_path / "run", "--out") == tmp_path / "run"


def test_write_outputs_writes_the_rest_after_a_failure(tmp_path):
    from mazepolicy.io import OutputError, write_outputs

    def fail():
        raise IsADirectoryError(21, "Is a directory")

    with pytest.raises(OutputError, match=r"^cannot write a \(Is a directory\); the other"):
        write_outputs({"a": fail, tmp_path / "b": lambda: atomic_write_text(tmp_path / "b",
                                                                              "kept")})
    assert (tmp_path / "b").read_text() == "kept"
