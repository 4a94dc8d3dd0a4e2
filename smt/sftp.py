"""SFTP edge (paramiko): connect with a pinned host key, walk a remote tree, read files.

Plain values in and out; no ORM. An unknown or changed host key is refused (RejectPolicy
over SMT_KNOWN_HOSTS alone, never the user's ~/.ssh/known_hosts).
"""

import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import paramiko

# A larger window and packets than paramiko's defaults: fewer round trips on big files.
WINDOW_SIZE = 8 * 1024 * 1024
MAX_PACKET_SIZE = 64 * 1024
# Read requests kept in flight per file by prefetch (32 KB each).
PREFETCH_REQUESTS = 256


class SftpError(Exception):
    """Connecting or authenticating failed; the message says why, without secrets."""


@dataclass(frozen=True)
class SftpConfig:
    host: str
    port: int
    user: str
    key_path: str
    known_hosts: str
    remote_dir: str = "/"
    timeout: float = 30


@dataclass(frozen=True)
class RemoteEntry:
    path: str
    size: int
    mtime: int


@contextmanager
def sftp_session(config: SftpConfig) -> Iterator[paramiko.SFTPClient]:
    """An SFTP client over a verified connection; closed on exit."""
    if not config.known_hosts:
        raise SftpError("SMT_KNOWN_HOSTS is not set: refusing to connect to an unverified host")
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(config.known_hosts)
    except OSError as exc:
        raise SftpError(f"cannot read SMT_KNOWN_HOSTS ({exc.strerror or exc})") from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        key = paramiko.PKey.from_path(config.key_path)
        client.connect(
            config.host, port=config.port, username=config.user, pkey=key, timeout=config.timeout,
            banner_timeout=config.timeout, auth_timeout=config.timeout, allow_agent=False, look_for_keys=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SftpError(f"host key of {config.host}:{config.port} has CHANGED ({exc.key.get_name()}); refusing to connect") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):  # RejectPolicy's wording
            raise SftpError(f"host key of {config.host}:{config.port} is unknown (not in SMT_KNOWN_HOSTS); refusing to connect") from None
        raise SftpError(f"SSH to {config.host}:{config.port} failed: {exc}") from None
    except OSError as exc:
        client.close()
        raise SftpError(f"cannot reach {config.host}:{config.port} ({exc.strerror or exc})") from None
    try:
        sftp = paramiko.SFTPClient.from_transport(client.get_transport(), window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE)
        yield sftp
    finally:
        client.close()


def sftp_walk(sftp: paramiko.SFTPClient, root: str) -> Iterator[RemoteEntry]:
    """Every regular file under `root`, recursively, in name order. Symlinks are not followed."""
    pending = [root or "/"]
    while pending:
        folder = pending.pop()
        entries = sorted(sftp.listdir_attr(folder), key=lambda attr: attr.filename, reverse=True)
        for attr in entries:
            path = posixpath.join(folder, attr.filename)
            if stat.S_ISDIR(attr.st_mode or 0):
                pending.append(path)
            elif stat.S_ISREG(attr.st_mode or 0):
                yield RemoteEntry(path=path, size=attr.st_size or 0, mtime=int(attr.st_mtime or 0))


@contextmanager
def sftp_open(sftp: paramiko.SFTPClient, entry: RemoteEntry) -> Iterator[BinaryIO]:
    """The remote file for reading, with read-ahead so it streams at link speed."""
    with sftp.open(entry.path, "rb") as remote:
        remote.prefetch(entry.size, max_concurrent_requests=PREFETCH_REQUESTS)
        yield remote
