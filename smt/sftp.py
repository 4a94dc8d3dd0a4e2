"""SFTP edge (paramiko): connect with a pinned host key, walk a remote tree, read files.

Plain values in and out; no ORM. An unknown or changed host key is refused (RejectPolicy
over SMT_KNOWN_HOSTS alone, never the user's ~/.ssh/known_hosts).
"""

import posixpath
import queue
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import paramiko

# paramiko's defaults (32 KB reads and packets, 2 MB window) cap loopback transfers far below
# OpenSSH's client. OpenSSH's sftp-server answers reads up to 255 KB (a 256 KB message less
# framing); a server that caps lower answers short reads, so the first read of a session probes
# the real limit and later files use it.
READ_REQUEST_BYTES = 255 * 1024
MAX_PACKET_SIZE = 256 * 1024
WINDOW_SIZE = 16 * 1024 * 1024
PREFETCH_REQUESTS = 64
DEFAULT_READ_BYTES = 32 * 1024  # what every SFTP server must accept


T = TypeVar("T")


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
    key_passphrase: str = ""


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
    key = _client_key(config)
    try:
        client.connect(
            config.host,
            port=config.port,
            username=config.user,
            pkey=key,
            timeout=config.timeout,
            banner_timeout=config.timeout,
            auth_timeout=config.timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SftpError(
            f"host key of {config.host}:{config.port} has CHANGED ({exc.key.get_name()}); refusing to connect"
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):  # RejectPolicy's wording
            raise SftpError(
                f"host key of {config.host}:{config.port} is unknown (not in SMT_KNOWN_HOSTS); refusing to connect"
            ) from None
        raise SftpError(f"SSH to {config.host}:{config.port} failed: {exc}") from None
    except OSError as exc:
        client.close()
        raise SftpError(f"cannot reach {config.host}:{config.port} ({exc.strerror or exc})") from None
    try:
        sftp = paramiko.SFTPClient.from_transport(
            client.get_transport(), window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE
        )
        yield sftp
    finally:
        client.close()


def _client_key(config: SftpConfig) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(config.key_path, password=config.key_passphrase.encode() or None)
    except (paramiko.PasswordRequiredException, TypeError):  # TypeError: cryptography's "no password given"
        raise SftpError("SMT_KEY is encrypted: set SMT_KEY_PASSPHRASE") from None
    except OSError as exc:
        raise SftpError(f"cannot read SMT_KEY ({exc.strerror or exc})") from None
    except (ValueError, paramiko.SSHException) as exc:  # a wrong passphrase reads as "not a private key"
        raise SftpError(f"cannot load SMT_KEY (wrong SMT_KEY_PASSPHRASE, or not a private key): {exc}") from None


def sftp_walk(
    sftp: paramiko.SFTPClient, root: str, on_error: Callable[[str, OSError], None] | None = None
) -> Iterator[RemoteEntry]:
    """Every regular file under `root`, recursively. Symlinks are not followed.

    A subfolder that cannot be listed goes to `on_error` and the walk goes on; the root
    itself must be listable (otherwise there is nothing to mirror: OSError).
    """
    pending = [root or "/"]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(sftp.listdir_attr(folder), key=lambda attr: attr.filename)
        except OSError as exc:
            if folder == (root or "/") or on_error is None:
                raise
            on_error(folder, exc)
            continue
        for attr in entries:
            path = posixpath.join(folder, attr.filename)
            if stat.S_ISDIR(attr.st_mode or 0):
                pending.append(path)
            elif stat.S_ISREG(attr.st_mode or 0):
                yield RemoteEntry(path=path, size=attr.st_size or 0, mtime=int(attr.st_mtime or 0))


@contextmanager
def sftp_open(sftp: paramiko.SFTPClient, entry: RemoteEntry) -> Iterator[BinaryIO]:
    """The remote file for reading, with read-ahead in large requests so it streams at link speed."""
    with sftp.open(entry.path, "rb") as remote:
        remote.MAX_REQUEST_SIZE = _read_limit(sftp, remote, entry.size)
        remote.prefetch(entry.size, max_concurrent_requests=PREFETCH_REQUESTS)
        yield remote


def _read_limit(sftp: paramiko.SFTPClient, remote: paramiko.SFTPFile, size: int) -> int:
    """The largest read the server answers in full, probed once per session on a big enough file."""
    limit = getattr(sftp, "wattledger_read_limit", None)
    if limit is not None:
        return limit
    if size <= READ_REQUEST_BYTES:
        return DEFAULT_READ_BYTES  # too small to probe; a few requests anyway
    remote.MAX_REQUEST_SIZE = READ_REQUEST_BYTES
    answered = len(remote._read(READ_REQUEST_BYTES))  # one READ request, one reply
    remote.seek(0)
    limit = max(DEFAULT_READ_BYTES, min(answered, READ_REQUEST_BYTES))
    sftp.wattledger_read_limit = limit
    return limit


def sftp_fetch_many[T](
    sftp: paramiko.SFTPClient,
    config: SftpConfig,
    entries: list[RemoteEntry],
    consume: Callable[[BinaryIO, RemoteEntry], T],
    *,
    connections: int = 1,
) -> Iterator[tuple[RemoteEntry | None, T | Exception]]:
    """Read `entries` over `sftp` plus up to `connections - 1` extra connections, in threads.

    `consume(stream, entry)` runs in a worker thread (it must not touch the ORM) and its result
    is yielded as (entry, result) in completion order, or (entry, exception) for a file that
    failed; every entry is yielded exactly once. An extra connection the server refuses is
    yielded as (None, SftpError) and the others carry on. paramiko does its crypto in one
    thread per connection, so a few connections use the cores a single one leaves idle.
    """
    work: queue.Queue = queue.Queue()
    for entry in entries:
        work.put(entry)
    results: queue.Queue = queue.Queue()

    def drain(client: paramiko.SFTPClient) -> None:
        while True:
            try:
                entry = work.get_nowait()
            except queue.Empty:
                return
            try:
                with sftp_open(client, entry) as remote:
                    results.put((entry, consume(remote, entry)))
            except Exception as exc:  # this file only; the caller records it
                results.put((entry, exc))

    def extra() -> None:
        try:
            with sftp_session(config) as own:
                drain(own)
        except Exception as exc:
            results.put((None, exc if isinstance(exc, SftpError) else SftpError(f"extra connection: {exc}")))

    threads = [threading.Thread(target=drain, args=(sftp,), daemon=True)]
    threads += [threading.Thread(target=extra, daemon=True) for _ in range(min(connections, len(entries)) - 1)]
    for thread in threads:
        thread.start()
    pending = len(entries)
    while pending:
        entry, outcome = results.get()
        pending -= entry is not None
        yield entry, outcome
    for thread in threads:
        thread.join()
    while not results.empty():  # extra connections refused after the files were all done
        yield results.get()
