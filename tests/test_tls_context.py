"""Building contexts: DCMTK's set-up messages, compared with DCMTK 3.6.7's echoscu where
3.6.7 and 3.7.0 agree, and against 3.7.0's texts (from its sources) where they differ."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import time

import pytest
from support.peers import dcmtk, normalise
from support.tls import RecordingLog, needs_tls13_suites

from certs import pki as pkimod
from certs.context import TLSSetupError, client_context, server_context, write_seed
from certs.options import TLSOptions

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"), password="secret")
    root = made.directory
    plain = pkimod.make_pki(os.path.join(root, "plain"))
    made.plain = plain  # unencrypted twin
    for name, kwargs in {"rsa1024": dict(key_type="rsa1024"), "sha1": dict(hash_name="sha1"),
                         "md5": dict(hash_name="md5"), "dsa": dict(key_type="dsa2048"),
                         "ec192": dict(key_type="ec192"), "ec224": dict(key_type="ec224")
                         }.items():
        pkimod.issue(root, name, made.ca, **kwargs)
    with open(os.path.join(root, "garbage.txt"), "w") as handle:
        handle.write("garbage\n")
    os.mkdir(os.path.join(root, "adir"))
    subprocess.run(["/usr/bin/openssl", "genrsa", "-aes256", "-passout", "pass:secret", "-out",
                    os.path.join(root, "trad.key"), "2048"], check=True, timeout=60,
                   capture_output=True)
    return made


def ours(options: TLSOptions, server: bool = False) -> list[str]:
    """What our TLS set-up prints (log lines, then the failure's lines)."""
    log = RecordingLog()
    try:
        (server_context if server else client_context)(options, log)
    except TLSSetupError as failure:
        log.lines.extend(failure.messages)
    return log.text()


def dcmtk_setup_lines(args: list[str], port: int, **run_options) -> list[str]:
    """DCMTK's stderr lines up to the connection attempt (which fails: closed port)."""
    result = dcmtk(*args, "localhost", str(port), **run_options)
    assert result.returncode == 1
    return [line for line in result.stderr_lines
            if not line.startswith("F: Association Request Failed:")]


def same(ours_lines: list[str], dcmtk_lines: list[str]) -> None:
    assert [normalise(line) for line in ours_lines] == [normalise(line) for line in dcmtk_lines]


def p(pki: pkimod.Pki, name: str) -> str:
    return os.path.join(pki.directory, name)


# --- differential: 3.6.7 and 3.7.0 print the same --------------------------------


DIFFERENTIAL = {
    "key-missing": (["+tls", "{d}/missing.key", "{d}/server.pem", "-pw"], {}),
    "key-directory": (["+tls", "{d}/adir", "{d}/server.pem", "-pw"], {}),
    "key-garbage": (["+tls", "{d}/garbage.txt", "{d}/server.pem", "-pw"], {}),
    "der-key-as-pem": (["+tls", "{d}/plain/server.key.der", "{d}/plain/server.pem"], {}),
    "pem-key-as-der": (["+tls", "{d}/plain/server.key", "{d}/plain/server.der", "-der"], {}),
    "wrong-password": (["+tls", "{d}/server.key", "{d}/server.pem", "+pw", "wrong"], {}),
    "null-password": (["+tls", "{d}/server.key", "{d}/server.pem", "-pw"], {}),
    "traditional-wrong": (["+tls", "{d}/trad.key", "{d}/server.pem", "+pw", "bad"], {}),
    "mismatch": (["+tls", "{d}/plain/server.key", "{d}/plain/client1.pem"], {}),
    "mismatch-der": (["+tls", "{d}/plain/server.key.der", "{d}/plain/client1.der", "-der"], {}),
    "ca-files": (["+tla", "+cf", "{d}/missing.pem", "+cf", "{d}/garbage.txt", "+cf",
                  "{d}/ca.der", "+cf", "{d}/ca.pem"], {}),
    "ca-files-der": (["+tla", "-der", "+cf", "{d}/ca.pem", "+cf", "{d}/ca.der", "+cd",
                      "{d}/nodir"], {}),
    "crl-files": (["+tla", "+cf", "{d}/ca.pem", "+crl", "{d}/missing.crl", "+crl",
                   "{d}/garbage.txt"], {}),
    "crl-der": (["+tla", "-der", "+cf", "{d}/ca.der", "+crl", "{d}/crl.der"], {}),
    "ca-dirs": (["+tla", "+cd", "{d}/nodir", "+cd", "{d}/garbage.txt", "+cd", "{d}/cadir"], {}),
    # OpenSSL's error queue: each failure queues several errors, DCMTK prints the oldest
    "stale-errors-key": (["+tls", "{d}/missing.key", "{d}/server.pem", "-pw", "+cf",
                          "{d}/missing.pem", "+cf", "{d}/missing2.pem"], {}),
    "stale-errors-files": (["+tla", "+cf", "{d}/missing.pem", "+cf", "{d}/missing2.pem",
                            "+cf", "{d}/garbage.txt", "+crl", "{d}/missing3.pem"], {}),
    "stale-errors-der": (["+tls", "{d}/garbage.txt", "{d}/plain/server.der", "-der", "+cf",
                          "{d}/missing.der", "+cf", "{d}/ca.pem", "+crl", "{d}/crl.der"], {}),
    "stale-errors-password": (["+tls", "{d}/server.key", "{d}/server.pem", "+pw", "bad", "+cf",
                               "{d}/garbage.txt"], {}),
    "good-password": (["+tls", "{d}/server.key", "{d}/server.pem", "+pw", "secret"], {}),
    "password-unencrypted": (["+tls", "{d}/plain/server.key", "{d}/plain/server.pem", "+pw",
                              "x"], {}),
}


def options_from_args(args: list[str]) -> TLSOptions:
    """The TLSOptions the command line parser makes of these (right-to-left lists)."""
    options = TLSOptions()
    words = list(args)
    while words:
        word = words.pop(0)
        if word == "+tls":
            options.mode, options.key_file, options.cert_file = "enabled", words.pop(0), \
                words.pop(0)
        elif word == "+tla":
            options.mode = "anonymous"
        elif word == "-pw":
            options.password_mode = "null"
        elif word == "+pw":
            options.password_mode, options.password = "given", words.pop(0)
        elif word == "-der":
            options.file_format = "der"
        elif word in ("+crv", "+cra"):
            options.crl_mode = "leaf" if word == "+crv" else "all"
        elif word in ("+cf", "+cd", "+crl"):
            target = {"+cf": options.ca_files, "+cd": options.ca_dirs,
                      "+crl": options.crl_files}[word]
            target.insert(0, words.pop(0))
        else:
            raise ValueError(word)
    return options


@pytest.mark.dcmtk
@pytest.mark.parametrize("case", list(DIFFERENTIAL))
def test_setup_messages_like_dcmtk(pki, closed_port, case):
    template, run_options = DIFFERENTIAL[case]
    args = [word.format(d=pki.directory) for word in template]
    theirs = dcmtk_setup_lines(args, closed_port, **run_options)
    same(ours(options_from_args(args)), theirs)


def _pass_phrase(key: bytes, padding_valid: bool) -> str:
    """A wrong pass phrase whose decryption of ``key`` has valid padding, or not."""
    from certs.pemcrypt import decrypts_to_valid_padding

    return next(word for word in (f"wrong{n}" for n in range(20000))
                if decrypts_to_valid_padding(key, word.encode()) is padding_valid)


@pytest.mark.dcmtk
@pytest.mark.parametrize("padding_valid", [True, False])
@pytest.mark.parametrize("key_format", ["pkcs8", "traditional", "certificate-first"])
def test_a_wrong_pass_phrase_reads_as_dcmtk_s_either_way(pki, closed_port, tmp_path,
                                                        key_format, padding_valid):
    """About one wrong pass phrase in 256 passes OpenSSL's padding check, which then
    reports the garbled content ("unsupported") instead of "bad decrypt"."""
    key = p(pki, "server.key")
    if key_format != "pkcs8":
        key = str(tmp_path / "traditional.key")
        subprocess.run(["/usr/bin/openssl", "rsa", "-in", p(pki, "plain/server.key"),
                        "-aes256", "-traditional", "-passout", "pass:secret", "-out", key],
                       check=True, timeout=60, capture_output=True)
    if key_format == "certificate-first":  # the key's block follows a certificate's
        with open(p(pki, "server.pem"), "rb") as certificate, open(key, "rb") as handle:
            joined = certificate.read() + handle.read()
        with open(key, "wb") as handle:
            handle.write(joined)
    with open(key, "rb") as handle:
        word = _pass_phrase(handle.read(), padding_valid)
    args = ["+tls", key, p(pki, "server.pem"), "+pw", word]
    theirs = dcmtk_setup_lines(args, closed_port)
    assert ("unsupported" in theirs[0]) is padding_valid
    same(ours(options_from_args(args)), theirs)


@pytest.mark.dcmtk
@pytest.mark.parametrize(("stdin", "succeeds"), [(b"secret\n", True), (b"wrong\n", False),
                                                  (b"", False), (b"secret", False)])
def test_prompted_password_like_dcmtk(pki, closed_port, stdin, succeeds):
    args = ["+tls", p(pki, "server.key"), p(pki, "server.pem")]
    theirs = subprocess.run(["setsid", "/usr/bin/echoscu", *args, "localhost", str(closed_port)],
                            input=stdin, capture_output=True, timeout=60)
    code = ("import sys; from certs.context import client_context, TLSSetupError;"
            "from certs.options import TLSOptions; from support.tls import RecordingLog\n"
            "log = RecordingLog()\n"
            f"try: client_context(TLSOptions(key_file={args[1]!r}, cert_file={args[2]!r}), log)\n"
            "except TLSSetupError as e: log.lines.extend(e.messages)\n"
            "sys.stderr.write(''.join(line + '\\n' for line in log.text()))")
    mine = subprocess.run(["setsid", sys.executable, "-c", code], input=stdin,
                          capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(__file__)})
    theirs_lines = [line for line in theirs.stderr.decode().splitlines()
                    if not line.startswith("F: Association Request Failed:")]
    same(mine.stderr.decode().splitlines(), theirs_lines)
    assert ("F: 000b:0004" in mine.stderr.decode()) is not succeeds


# --- 3.7.0 where 3.6.7 differs ------------------------------------------------------


def test_certificate_load_failures_370(pki):
    # 3.6.7 reports these as "000b:0006 ... do not match" (a bug fixed in 3.6.8)
    key = p(pki, "plain/server.key")
    for cert, der_format, error in (
        ("missing.pem", False, "E: OpenSSL error 80000002: OpenSSL error"),
        ("garbage.txt", False, "E: OpenSSL error 0480006c: no start line"),
        ("plain/server.pem", True, "E: OpenSSL error 068000a8: wrong tag"),
    ):
        options = TLSOptions(key_file=p(pki, "plain/server.key.der") if der_format else key,
                             cert_file=p(pki, cert), file_format="der" if der_format else "pem")
        assert ours(options) == [error, f"F: 000b:0005 Unable to load certificate from "
                                        f"'{p(pki, cert)}'"]


def own(pki: pkimod.Pki, name: str, profile: str = "8996", server: bool = False) -> list[str]:
    return ours(TLSOptions(key_file=p(pki, f"{name}.key"), cert_file=p(pki, f"{name}.pem"),
                           password_mode="given", password="", profile=profile), server)


def test_own_certificate_checks_370(pki):
    cert = lambda name: p(pki, f"{name}.pem")  # noqa: E731
    fail = lambda name: f"F: 000b:0005 Unable to load certificate from '{cert(name)}'"  # noqa: E731
    assert own(pki, "rsa1024") == [
        "W: Key length of RSA public key too short: RFC 9325 recommends at least 2048 bits for "
        f"RSA keys, but the key in certificate file '{cert('rsa1024')}' is only 1024 bits."]
    assert own(pki, "rsa1024", server=True) == [
        "F: Key length of RSA public key too short: RFC 9325 requires at least 2048 bits for "
        f"server RSA keys, but the key in certificate file '{cert('rsa1024')}' is only 1024 "
        "bits.", fail("rsa1024")]
    assert own(pki, "rsa1024", "bcp195-nd", server=True)[0].startswith("W: Key length of RSA")
    assert own(pki, "rsa1024", "8996-mod") == [
        "F: Key length of RSA public key too short: TLS profile requires at least 2048 bits for "
        f"RSA keys, but the key in certificate file '{cert('rsa1024')}' is only 1024 bits.",
        fail("rsa1024")]
    assert own(pki, "sha1") == [
        "W: Possibly weak certificate hash key: RFC 9325 recommends the use of SHA-256 (or "
        f"better) for certificates, but certificate file '{cert('sha1')}' uses 'RSA-SHA1'."]
    assert own(pki, "sha1", "8996-mod") == [
        "F: Weak certificate hash key: TLS profile requires SHA-256 (or better) for "
        f"certificates, but certificate file '{cert('sha1')}' uses 'RSA-SHA1'.", fail("sha1")]
    assert own(pki, "md5", "null") == [
        f"E: Weak certificate hash key: certificate file '{cert('md5')}' uses 'MD5'.",
        fail("md5")]
    assert own(pki, "ec192", "bcp195") == [
        "W: Key length of ECDSA public key too short: RFC 9325 recommends at least 224 bits for "
        f"ECDSA keys, but the key in certificate file '{cert('ec192')}' is only 192 bits."]
    assert own(pki, "ec224") == []
    assert own(pki, "ec224", "8996-mod") == [
        "F: Key length of ECDSA public key too short: TLS profile requires at least 256 bits "
        f"for ECDSA keys, but the key in certificate file '{cert('ec224')}' is only 224 bits.",
        fail("ec224")]
    assert own(pki, "dsa") == [
        f"F: DSA certificate '{cert('dsa')}' not permitted in the selected TLS profile because "
        "it prevents the use of TLS 1.3.", fail("dsa")]
    assert own(pki, "dsa", "bcp195-nd") == [
        "W: Use of DSA certificate not recommended because it prevents the use of TLS 1.3, "
        "which does not support this certificate type."]


def test_dsa_certificate_caps_tls_at_12(pki):
    options = TLSOptions(key_file=p(pki, "dsa.key"), cert_file=p(pki, "dsa.pem"),
                         password_mode="given", password="", profile="bcp195-nd")
    context = client_context(options, RecordingLog())
    assert context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_protocol_versions_per_profile(pki):
    expectations = {
        "8996": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3),
        "8996-mod": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3),
        "bcp195-nd": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
        "bcp195": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3),
        "bcp195-ex": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
        "aes": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2),
        "null": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2),
    }
    for profile, (low, high) in expectations.items():
        context = client_context(TLSOptions(mode="anonymous", profile=profile), RecordingLog())
        assert (context.minimum_version, context.maximum_version) == (low, high), profile
        assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname


@needs_tls13_suites
def test_modified_profile_suites(pki):
    names = [c["name"] for c in client_context(
        TLSOptions(mode="anonymous", profile="8996-mod"), RecordingLog()).get_ciphers()]
    assert names[:5] == ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                         "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256",
                         "TLS_AES_128_CCM_8_SHA256"]
    assert names[5:7] == ["ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES128-CCM8"]


def test_unsupported_profile_and_cipher_errors():
    assert ours(TLSOptions(mode="anonymous", profile="basic")) == [
        "F: 000b:0018 DICOM TLS Secure Transport Connection Profile not supported"]
    assert ours(TLSOptions(mode="anonymous", ciphers=["TLS_RSA_WITH_AES_128_GCM_SHA256",
                                                      "NOPE"])) == [
        "W: Ciphersuite 'TLS_RSA_WITH_AES_128_GCM_SHA256' uses RSA key transport. RFC 9325 "
        "recommends that such cipher suites should not be used.",
        "F: 000b:0003 Unknown or invalid ciphersuite: NOPE"]


def test_peer_certificate_modes():
    modes = {"require": ssl.CERT_REQUIRED, "verify": ssl.CERT_OPTIONAL,
             "ignore": ssl.CERT_NONE}
    for mode, expected in modes.items():
        options = TLSOptions(mode="anonymous", peer_cert=mode)
        assert client_context(options, RecordingLog()).verify_mode == expected
        assert server_context(options, RecordingLog()).verify_mode == expected


def test_seed_files(tmp_path):
    seed = tmp_path / "seed"
    options = TLSOptions(mode="anonymous", seed_file=str(tmp_path / "missing"))
    assert ours(options) == []  # a missing seed file is silently ignored
    seed.write_bytes(b"x" * 100)
    options = TLSOptions(mode="anonymous", seed_file=str(seed), write_seed=True)
    client_context(options, RecordingLog())
    assert write_seed(options)
    assert len(seed.read_bytes()) == 1024 and seed.read_bytes() != b"x" * 100
    assert stat.S_IMODE(seed.stat().st_mode) == 0o600
    target = tmp_path / "out.seed"
    assert write_seed(TLSOptions(seed_file=str(seed), write_seed_file=str(target)))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and len(target.read_bytes()) == 1024
    assert write_seed(TLSOptions(seed_file=str(seed)))  # nothing to write
    assert not write_seed(TLSOptions(write_seed_file=str(tmp_path / "no" / "dir")))


def _terminal_transcript(argv: list[str], typed: bytes, env: dict[str, str]) -> bytes:
    """Run ``argv`` on a new pseudo terminal (its controlling terminal), type ``typed``
    after the pass phrase prompt, and return everything the terminal showed."""
    import pty
    import select

    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its stdin, stdout, stderr and controlling tty
        os.execve(argv[0], argv, env)
    shown = b""
    typed_yet = False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no output from {argv[0]} within 30 s: {shown!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not typed_yet and b"Enter PEM pass phrase:" in shown:
                # type like a person, a moment after the prompt: OpenSSL switches echo
                # off only after printing it
                time.sleep(0.5)
                os.write(master, typed)
                typed_yet = True
    finally:
        os.close(master)
        os.waitpid(pid, 0)
    return shown


@pytest.mark.dcmtk
@pytest.mark.parametrize(("typed", "succeeds"), [(b"secret\n", True), (b"wrong\n", False)])
def test_prompt_on_the_terminal_like_dcmtk(pki, closed_port, typed, succeeds):
    key, cert = p(pki, "server.key"), p(pki, "server.pem")
    code = ("import sys; from certs.context import client_context, TLSSetupError;"
            "from certs.options import TLSOptions; from support.tls import RecordingLog\n"
            "log = RecordingLog()\n"
            f"try: client_context(TLSOptions(key_file={key!r}, cert_file={cert!r}), log)\n"
            "except TLSSetupError as e: log.lines.extend(e.messages)\n"
            "sys.stderr.write(''.join(line + '\\n' for line in log.text()))")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(__file__)}
    mine = _terminal_transcript([sys.executable, "-c", code], typed, env)
    theirs = _terminal_transcript(["/usr/bin/echoscu", "+tls", key, cert, "localhost",
                                   str(closed_port)], typed, env)
    theirs = theirs.split(b"F: Association Request Failed:")[0]
    assert typed.strip() not in mine  # echo was off while typing
    assert mine.startswith(b"Enter PEM pass phrase:\r\n")
    assert normalise(mine.decode()) == normalise(theirs.decode())
    assert (b"000b:0004" in mine) is not succeeds
