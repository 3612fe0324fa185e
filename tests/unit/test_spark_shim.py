"""The jar the local Spark server gets for Hive's function registry (tests/spark/test_local_server.py loads it)."""

from __future__ import annotations

import os
import zipfile

from ingestion.targets import spark as sp


def test_the_shim_jar_holds_one_empty_interface_and_is_never_rewritten(tmp_path):
    jar = sp.hive_llap_shim(tmp_path)
    entries = zipfile.ZipFile(jar).namelist()
    assert entries == ["org/apache/hadoop/hive/llap/security/LlapSigner$Signable.class"]
    body = zipfile.ZipFile(jar).read(entries[0])
    assert body[:4] == bytes.fromhex("cafebabe") and len(body) == 108  # magic; 4 pool entries, no members
    os.utime(jar, ns=(1, 1))  # a server started earlier has this jar open
    assert sp.hive_llap_shim(tmp_path) == jar and jar.stat().st_mtime_ns == 1
    jar.write_bytes(b"damaged")
    assert zipfile.ZipFile(sp.hive_llap_shim(tmp_path)).namelist() == entries
