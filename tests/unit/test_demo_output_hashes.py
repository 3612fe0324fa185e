"""The demo generator's output, byte for byte, against sha256 hashes recorded from a known-good version.

The generator is deterministic: a refactoring must not change a byte of what it writes. The fixture holds one
{relative path: sha256} per configuration (clean, --dirty, and the delta on top of the clean tree, in a Stripe
API version before basil and in the current one). The suite checks scale 0.05; scale 1 is checked by hand:

    .venv/bin/python -m tests.unit.test_demo_output_hashes --check 1     # compare (~1 min per configuration)
    .venv/bin/python -m tests.unit.test_demo_output_hashes --record 0.05 # after an intended change of output

Record only when the output is meant to change, and say why in the commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest

from ingestion.demo.delta import write_delta
from ingestion.demo.generator import generate
from ingestion.sources import stripe_versions

FIXTURE = Path(__file__).parent.parent / "fixtures" / "demo_output_hashes.json"
SEED = 7
VERSIONS = (stripe_versions.CURRENT, stripe_versions.LAST_BEFORE_BASIL)
SUMMARY = "<summary>"  # the hash of what generate()/write_delta() return, beside the files


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path, summary: dict, only: set[str] | None = None) -> dict[str, str]:
    files = {
        p.relative_to(root).as_posix(): _sha(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and (only is None or p.relative_to(root).as_posix() in only)
    }
    return {SUMMARY: _sha(json.dumps(summary, sort_keys=True).encode()), **files}


def configuration_hashes(scale: float, version: str, work: Path) -> dict[str, dict[str, str]]:
    """{configuration name: {relative path: sha256}} for one scale and Stripe API version."""
    clean, dirty = work / "clean", work / "dirty"
    out = {
        f"{scale}/{version}/clean": _tree(
            clean, generate(clean, scale=scale, seed=SEED, stripe_api_version=version)
        )
    }
    delta = write_delta(clean, fraction=0.01, seed=SEED)
    out[f"{scale}/{version}/delta"] = _tree(clean, delta, only=set(delta))
    summary = generate(dirty, scale=scale, seed=SEED, dirty=True, stripe_api_version=version)
    out[f"{scale}/{version}/dirty"] = _tree(dirty, summary)
    return out


def _recorded() -> dict[str, dict[str, str]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    keys = sorted(set(expected) | set(actual))
    return [
        f"{k}: {'missing' if k not in actual else 'unexpected' if k not in expected else 'changed'}"
        for k in keys
        if expected.get(k) != actual.get(k)
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_output_is_byte_identical_to_the_recorded_hashes(tmp_path, version):
    recorded = _recorded()
    for name, actual in configuration_hashes(0.05, version, tmp_path).items():
        assert name in recorded, f"no recorded hashes for {name}"
        diff = _differences(recorded[name], actual)
        assert not diff, f"{name}: {len(diff)} files differ from the recorded output, e.g. {diff[:10]}"


def test_recorded_hashes_cover_both_scales_and_versions():
    names = set(_recorded())
    for scale in (0.05, 1):
        for version in VERSIONS:
            assert {f"{scale}/{version}/{k}" for k in ("clean", "delta", "dirty")} <= names


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", type=float, metavar="SCALE", help="compare with the recorded hashes")
    mode.add_argument("--record", type=float, metavar="SCALE", help="record the current output's hashes")
    args = ap.parse_args(argv)
    scale = args.check if args.check is not None else args.record
    scale = int(scale) if scale == int(scale) else scale  # the key is "1/…", as the test names it
    recorded = _recorded() if FIXTURE.exists() else {}
    failed = False
    for version in VERSIONS:
        with tempfile.TemporaryDirectory() as work:
            for name, actual in configuration_hashes(scale, version, Path(work)).items():
                if args.record is not None:
                    recorded[name] = actual
                    print(f"recorded {name}: {len(actual) - 1} files")
                    continue
                diff = _differences(recorded.get(name, {}), actual)
                failed |= bool(diff)
                print(
                    f"{name}: {len(actual) - 1} files, "
                    + (f"{len(diff)} differ: {diff[:10]}" if diff else "identical")
                )
    if args.record is not None:
        FIXTURE.write_text(
            json.dumps(dict(sorted(recorded.items())), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
