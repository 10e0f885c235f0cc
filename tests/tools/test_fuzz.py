"""``python -m tools.fuzz``: the quick subset runs clean against the real kiosk, its inputs are
reproducible from the seed, and its checker really counts what it is there to find."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import PROJECT_ROOT
from tools.fuzz import RSS_LIMIT_MB, RunRecord, RunSpec, check_run, failed, generate, tally


def test_quick_fuzz_finds_nothing():
    proc = subprocess.run([sys.executable, "-m", "tools.fuzz", "--quick"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    inputs = int(re.search(r"^total +(\d+)$", out, re.MULTILINE).group(1))
    assert inputs >= 50
    for kind in ("picture truncated", "picture bit-flipped", "picture huge header", "picture random bytes",
                 "picture empty", "video truncated", "video bit-flipped", "config deep nesting", "config odd path"):
        assert re.search(rf"^{kind} +\d+$", out, re.MULTILINE), kind
    problems = next(line for line in out.splitlines() if line.startswith("problems: "))
    assert problems.startswith("problems: 0 crashes, 0 hangs, 0 tracebacks, 0 multi-line errors, 0 stray stderr lines,"), problems
    for command in ("classify", "analyze", "replay", "validate-config", "start after OK"):
        assert re.search(rf"^{command} +[1-9]", out, re.MULTILINE), command
    assert "verdict: PASS" in out


def _digests(root: Path) -> dict[str, str]:
    """Every file's digest, the folder's own path (configs name their storage in it) left out."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes().replace(str(root).encode(), b"ROOT")).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_inputs_are_the_same_for_the_same_seed(tmp_path):
    corpus_a = generate(tmp_path / "a", seed=7, quick=True)[0]
    corpus_b = generate(tmp_path / "b", seed=7, quick=True)[0]
    generate(tmp_path / "c", seed=8, quick=True)
    assert len(corpus_a.inputs) == len(corpus_b.inputs) >= 50
    a, b, c = (_digests(tmp_path / name) for name in "abc")
    assert a == b
    assert a != c


def _record(command: str, exit_code: int, stderr: str = "", stdout: str = "", **spec_fields) -> RunRecord:
    expected = frozenset({0, 2}) if command in ("validate-config", "start after OK") else frozenset({0})
    spec = RunSpec(command, [command], 60, expected, **spec_fields)
    return RunRecord(spec, exit_code=exit_code, stderr=stderr, stdout=stdout)


LOG = "2026-01-01 10:00:00,000 WARNING kiosk.classify: /x/b.jpg: empty file\n"


def test_the_checker_counts_what_it_is_there_to_find():
    traceback = _record("classify", 1, stderr=LOG + "Traceback (most recent call last):\n  File \"main.py\"\nValueError: boom\n",
                        inputs=("/x/a.jpg",))
    hang = _record("validate-config", -9)
    hang.timed_out = True
    two_line_refusal = _record("validate-config", 2, stderr="error: config file x is not valid TOML\nat line 3\n")
    broken_record = _record("classify", 0, stderr=LOG, inputs=("/x/a.jpg", "/x/b.jpg", "/x/c.jpg"),
                            stdout='{"path": "/x/a.jpg", "label": "with_mask", "score": 0.9}\n'
                                   '{"path": "/x/b.jpg", "error": "/x/b.jpg: empty\\nfile"}\n')
    noisy = _record("analyze", 0, stderr="Corrupt JPEG data: premature end of data segment\n" + LOG)
    refused_after_ok = _record("start after OK", 2, stderr=LOG + "error: [model] dir = \"m\": no such folder\n")
    clean = [_record("validate-config", 2, stderr="error: [email] port = 0: must be an integer from 1 to 65535\n"),
             _record("validate-config", 0, stdout="config OK: kiosk.toml\n"),
             _record("classify", 0, stderr=LOG, inputs=("/x/b.jpg",), stdout='{"path": "/x/b.jpg", "error": "/x/b.jpg: empty file"}\n')]

    found = check_run(traceback)
    assert found.traceback and found.crash and found.stray == 0 and found.any
    found = check_run(hang)
    assert found.hang and not found.crash
    assert check_run(two_line_refusal).multi_line == 1
    assert check_run(broken_record).multi_line == 1 and check_run(broken_record).lost == 1
    assert check_run(noisy).stray == 1
    assert check_run(refused_after_ok).refused_after_ok and not check_run(refused_after_ok).crash
    for record in clean:
        assert not check_run(record).any, check_run(record).notes

    records = [traceback, hang, two_line_refusal, broken_record, noisy, refused_after_ok, *clean]
    rows = tally(records, [check_run(r) for r in records])
    total = rows["total"]
    assert (total["runs"], total["crashes"], total["hangs"], total["tracebacks"]) == (9, 1, 1, 1)
    assert (total["multi-line"], total["stray"], total["lost"], total["refused OK"]) == (2, 1, 1, 1)
    assert rows["classify"]["runs"] == 3 and rows["validate-config"]["runs"] == 4
    assert failed(total)

    clean_rows = tally(clean, [check_run(r) for r in clean])
    assert not failed(clean_rows["total"])
    clean[0].peak_rss_mb = RSS_LIMIT_MB + 1  # memory alone fails the gate too
    assert failed(tally(clean, [check_run(r) for r in clean])["total"])
