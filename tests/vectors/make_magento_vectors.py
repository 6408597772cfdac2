#!/usr/bin/env python3
"""Writes magento_hashes.json: Magento password hashes made by an implementation
independent of ours (hashlib, argon2-cffi, bcrypt from PyPI), following
Magento\\Framework\\Encryption\\Encryptor::isValidHash step by step.

    python3 -m venv /tmp/vec && /tmp/vec/bin/pip install argon2-cffi bcrypt
    /tmp/vec/bin/python tests/vectors/make_magento_vectors.py

Deterministic: fixed salts, so re-running gives the same file.
Each vector: {"hash", "password", "expect", "note"} where expect is
"verifies" (the password is right), "wrong" (a parseable hash, a wrong
password) or "reject" (not a hash the importer accepts; no password).
"""

import hashlib
import json
import pathlib

import bcrypt
from argon2.low_level import Type, hash_secret_raw

MAGENTO_ARGON = (32, 2, 67108864)  # seed bytes, ops, mem bytes: libsodium "interactive"


def salt16(salt: bytes) -> bytes:
    """Magento's getArgonHash: str_pad with the salt itself up to 16 bytes, or cut."""
    if len(salt) < 16:
        return (salt * 16)[:16]
    return salt[:16]


def step(version: str, salt: str, x: str) -> str:
    s = salt.encode()
    if version == "0":
        return hashlib.md5(s + x.encode()).hexdigest()
    if version == "1":
        return hashlib.sha256(s + x.encode()).hexdigest()
    if version in ("2", "3"):
        seed, ops, mem = MAGENTO_ARGON
    else:
        three, seed, ops, mem = version.split("_")
        assert three == "3"
        seed, ops, mem = int(seed), int(ops), int(mem)
    raw = hash_secret_raw(
        secret=x.encode(),
        salt=salt16(s),
        time_cost=ops,
        memory_cost=mem // 1024,  # libsodium: memlimit bytes / 1024 = KiB
        parallelism=1,
        hash_len=seed,
        type=Type.ID,
        version=19,
    )
    return raw.hex()


def magento2(password: str, salt: str, versions: str) -> str:
    x = password
    for v in versions.split(":"):
        x = step(v, salt, x)
    return f"{x}:{salt}:{versions}"


def magento1(password: str, salt: str, algo: str) -> str:
    return hashlib.new(algo, (salt + password).encode()).hexdigest() + ":" + salt


def bcrypt_hash(password: str, prefix: str, cost: int, salt22: str) -> str:
    h = bcrypt.hashpw(password.encode()[:72], f"$2b${cost:02d}${salt22}".encode()).decode()
    return prefix + h[4:]  # "$2b$" replaced by the prefix asked for


vectors = []


def ok(h, pw, note, wrong="not-the-password"):
    vectors.append({"hash": h, "password": pw, "expect": "verifies", "note": note})
    vectors.append({"hash": h, "password": wrong, "expect": "wrong", "note": note + ", wrong password"})


def reject(h, note):
    vectors.append({"hash": h, "password": "Password@2022", "expect": "reject", "note": note})


SALT32 = "PNK7gwTSnTc9L8AXZEvgZQ4SA66qirus"

# The public Magento 2.4 vector, recomputed here rather than copied.
public = magento2("Password@2022", SALT32, "3_32_2_67108864")
assert public == ("abf1de8d537a1270237b9b56c8db9c67aeece6d89639a64d5ffd7264262541ab:"
                  "PNK7gwTSnTc9L8AXZEvgZQ4SA66qirus:3_32_2_67108864")
ok(public, "Password@2022", "Magento 2.4 public vector", wrong="password@2022")

# Magento 2, one version each.
ok(magento2("hunter2 with spaces", "Zr8qT0yWkq1mX3cV9bN2hJ4fL6dS7aP5", "0"),
   "hunter2 with spaces", "M2 version 0 (MD5), spaces in password")
ok(magento2("Sécurité-été-ü", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6", "1"),
   "Sécurité-été-ü", "M2 version 1 (SHA-256), non-ASCII password")
ok(magento2("correct horse", "qwertyuiopasdfghjklzxcvbnm123456", "2"),
   "correct horse", "M2 version 2 (Argon2id interactive)")
ok(magento2("bare-three", "0123456789abcdefghijklmnopqrstuv", "3"),
   "bare-three", "M2 bare version 3 read as 3_32_2_67108864")

# Chains from customer:hash:upgrade, oldest first.
ok(magento2("chain-0-1", "saltsaltsaltsaltsaltsaltsaltsalt", "0:1"), "chain-0-1", "M2 chain 0:1")
ok(magento2("chain one three", SALT32, "1:3_32_2_67108864"), "chain one three", "M2 chain 1:3_32_2_67108864")
ok(magento2("c012", "K9", "0:1:3_32_2_67108864"), "c012", "M2 chain 0:1:3_32_2_67108864, 2-char salt")
ok(magento2("two-argons", "abcdefghijklmnopqrstuvwxyz012345", "2:3_32_2_67108864"),
   "two-argons", "M2 chain 2:3_32_2_67108864 (2.3 hash upgraded on 2.4)")
ok(magento2("one-two", "short", "1:2"), "one-two", "M2 chain 1:2, 5-byte salt repeated for Argon2")

# Salts shorter and longer than Argon2's 16 bytes, and one cut inside a UTF-8 character.
ok(magento2("pw", "ab", "3_32_2_67108864"), "pw", "Argon2, 2-byte salt repeated to 16")
ok(magento2("pw16", "0123456789ABCDEF", "3_32_2_67108864"), "pw16", "Argon2, exactly 16-byte salt")
ok(magento2("pw-long", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "3_32_2_67108864"), "pw-long", "Argon2, 36-byte salt cut to 16")
ok(magento2("ünïcödé pässwörd ✓", "sél-été-ü-ñ-çx", "3_32_2_67108864"),
   "ünïcödé pässwörd ✓", "Argon2, non-ASCII salt cut inside a character, non-ASCII password")

# Other Argon2 parameters written in the version itself.
ok(magento2("params", SALT32, "3_16_1_8192"), "params", "Argon2 3_16_1_8192 (libsodium minimums)")
ok(magento2("params64", SALT32, "3_64_3_16777216"), "params64", "Argon2 3_64_3_16777216")

# Magento 1: hex:salt without a version.
ok(magento1("m1 md5 pass", "Xy", "md5"), "m1 md5 pass", "M1 MD5, 2-char salt")
ok(magento1("m1-sha", "Q7", "sha256"), "m1-sha", "M1 SHA-256, 2-char salt")
ok(magento1("nosalt", "", "md5"), "nosalt", "M1 MD5, empty salt")
ok(magento1("Ünï cödé", "saltysalt", "md5"), "Ünï cödé", "M1 MD5, non-ASCII password with a space")
# Magento 1 hashes as the data migration tool writes them.
ok(magento1("migrated", "mK", "md5") + ":0", "migrated", "M1 MD5 migrated to M2 (:0)")

# bcrypt from OpenMage / SUPEE-11219.
ok(bcrypt_hash("openmage pw", "$2y$", 10, "Ro0CUfOqk6cXEKf3dyaM7O"), "openmage pw", "bcrypt $2y$10")
ok(bcrypt_hash("with-suffix", "$2y$", 10, "abcdefghijklmnopqrstuu") + ":0", "with-suffix", "bcrypt $2y$10 with :0")
ok(bcrypt_hash("two-a ü", "$2a$", 8, "EHR4X0ikTYeYVXmu/PGT2e"), "two-a ü", "bcrypt $2a$08, non-ASCII")
ok(bcrypt_hash("two b", "$2b$", 4, "0123456789ABCDEFGHIJKu"), "two b", "bcrypt $2b$04, space")
long = "L" * 72 + "-ignored-by-php"
vectors.append({"hash": bcrypt_hash(long, "$2y$", 5, "zyxwvutsrqponmlkjihgfe"), "password": long,
                "expect": "verifies", "note": "bcrypt sees only the first 72 bytes, as PHP's password_verify"})

# Not importable.
reject("not-a-hash", "no colon, not bcrypt")
reject("5f4dcc3b5aa765d61d8327deb882cf99", "bare MD5 without a salt")
reject(public.rsplit(":", 1)[0] + ":4", "unknown version 4")
reject(public.rsplit(":", 1)[0] + ":3_32_2", "3_ with too few parameters")
reject(public.rsplit(":", 1)[0] + ":", "empty version list")
reject(public.upper().replace(SALT32.upper(), SALT32), "upper-case hex digest (Magento never writes it, never verifies it)")
reject("zz" + public[2:], "digest not hex")
reject(public[2:], "digest one byte short for the last version")
reject(magento1("x", "ab", "md5")[:30] + ":ab", "M1 digest of 30 hex characters")
reject(hashlib.sha1(b"abx").hexdigest() + ":ab", "M1 40-hex digest (SHA-1)")
reject("ab" * 32 + "::2", "Argon2 with an empty salt (PHP str_pad fails)")
reject(public.rsplit(":", 1)[0] + ":3_8_2_67108864", "Argon2 output shorter than 16 bytes")
reject(public.rsplit(":", 1)[0] + ":3_32_0_67108864", "Argon2 ops 0")
reject(public.rsplit(":", 1)[0] + ":3_32_2_4096", "Argon2 memory below 8 KiB")
reject(public.rsplit(":", 1)[0] + ":3_32_2_134217728", "Argon2 memory 128 MiB, dearer than this server verifies")
reject(public.rsplit(":", 1)[0] + ":2:2:2", "three Argon2 steps, dearer than this server verifies")
reject("$2x$10$Ro0CUfOqk6cXEKf3dyaM7OhSCvnwM9s4wIX9JeLapehKK5YdLxKcm", "bcrypt $2x$ (the buggy PHP variant)")
reject("$2y$10$Ro0CUfOqk6cXEKf3dyaM7O", "truncated bcrypt")
reject(bcrypt_hash("x", "$2y$", 4, "Ro0CUfOqk6cXEKf3dyaM7O") + ":1", "bcrypt with a :1 suffix")
reject("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$4lXkT5LqUmRi", "argon2i PHC string")
reject(" " + public, "leading space")

out = pathlib.Path(__file__).with_name("magento_hashes.json")
out.write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {len(vectors)} vectors to {out}")
