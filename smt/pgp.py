"""GnuPG edge (python-gnupg): detect and decrypt ASCII-armored OpenPGP messages.

Plain values in and out; no ORM. The keyring lives in SMT_GNUPG_HOME.
"""

from typing import BinaryIO

import gnupg

ARMOR_LINE = b"-----BEGIN PGP MESSAGE-----"


class DecryptError(Exception):
    """gpg could not decrypt; the message is gpg's own reason."""


def is_armored(*, filename: str, head: bytes) -> bool:
    """An `.asc` name and the armor line: a plain CSV can arrive under an `.asc` name."""
    return filename.lower().endswith(".asc") and head.lstrip().startswith(ARMOR_LINE)


def pgp_decrypt(*, armored: BinaryIO, output_path: str, gnupg_home: str, passphrase: str = "") -> None:
    """Decrypt `armored` into the file at `output_path`. Raises DecryptError with gpg's reason."""
    if not gnupg_home:
        raise DecryptError("SMT_GNUPG_HOME is not set: no keyring to decrypt with")
    gpg = gnupg.GPG(gnupghome=gnupg_home)
    result = gpg.decrypt_file(armored, output=output_path, passphrase=passphrase or None, always_trust=True)
    if not result.ok:
        raise DecryptError(_reason(result))


def _reason(result) -> str:
    """gpg's status plus its last meaningful stderr lines ("decryption failed: No secret key")."""
    lines = [line[5:].strip() for line in (result.stderr or "").splitlines() if line.startswith("gpg: ")]
    detail = "; ".join(lines[-3:])
    status = result.status or "decryption failed"
    return f"gpg: {status}" + (f" ({detail})" if detail else "")
