"""Untrusted XML: bombs and external entities are refused, malformed input is a clear error."""

from __future__ import annotations

import codecs
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from leadsync.resman.errors import MalformedXMLError, UnsafeXMLError
from leadsync.resman.mits import safe
from leadsync.resman.mits.safe import safe_parse

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<LeadManagement><Prospects><Prospect><Customers><Customer Type="prospect">
<Name><FirstName>&lol9;</FirstName></Name></Customer></Customers></Prospect></Prospects>
</LeadManagement>"""


def _quadratic_blowup() -> bytes:
    # One 20 kB entity referenced 20,000 times: 400 MB if expanded, 100 kB on the wire.
    entity = "A" * 20_000
    refs = "&a;" * 20_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{entity}">]>'
        f"<LeadManagement><Comment>{refs}</Comment></LeadManagement>"
    ).encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-7f3a9c")
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real loopback listener: any fetch attempt by the parser would connect to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _raw_parse(doc: bytes) -> etree._Element:
    """The second layer alone: the configured parser, without the DOCTYPE scan."""
    return etree.fromstring(doc, safe._THREAD.parser)


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(UnsafeXMLError, match="DOCTYPE"):
        safe_parse(BILLION_LAUGHS)


def test_quadratic_blowup_is_refused() -> None:
    with pytest.raises(UnsafeXMLError, match="DOCTYPE"):
        safe_parse(_quadratic_blowup())


def test_xxe_local_file_is_refused_and_never_read(secret_file: Path) -> None:
    doc = (
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
        "<LeadManagement><Comment>&x;</Comment></LeadManagement>"
    ).encode()
    with pytest.raises(UnsafeXMLError) as caught:
        safe_parse(doc)
    assert "TOP-SECRET" not in str(caught.value)
    # Even without the scan the parser leaves the entity unexpanded.
    assert b"TOP-SECRET" not in etree.tostring(_raw_parse(doc))


def test_parameter_entity_from_file_is_refused(secret_file: Path) -> None:
    doc = (
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{secret_file.as_uri()}"> %p;]><LeadManagement/>'
    ).encode()
    with pytest.raises(UnsafeXMLError):
        safe_parse(doc)
    assert b"TOP-SECRET" not in etree.tostring(_raw_parse(doc))


@pytest.mark.parametrize(
    "template",
    [
        '<!DOCTYPE LeadManagement SYSTEM "http://127.0.0.1:{port}/evil.dtd"><LeadManagement/>',
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><LeadManagement/>',
        '<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]><LeadManagement>&x;'
        "</LeadManagement>",
    ],
    ids=["external-dtd", "parameter-entity", "external-entity"],
)
def test_network_dtd_and_entities_are_refused_without_connecting(
    template: str, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    doc = template.format(port=port).encode()
    with pytest.raises(UnsafeXMLError):
        safe_parse(doc)
    # The second layer on its own does not fetch either (no_network, no DTD loading).
    _raw_parse(doc)
    assert _connections(listener) == 0


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE a><a/>',
        b"<!-- harmless? --><?pi x?>\n  <!DOCTYPE a []><a/>",
        codecs.BOM_UTF8 + b"<!DOCTYPE a><a/>",
        b"<!doctype a><a/>",
        "<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE a><a/>".encode("utf-16"),
        "<!DOCTYPE a><a/>".encode("utf-16-be"),
        # UTF-7 spells "<!DOCTYPE" as "+ADw-!DOCTYPE": invisible to a naive byte scan.
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE a+AD4-<a/>',
    ],
    ids=["after-decl", "after-comment-and-pi", "bom", "lowercase", "utf16", "utf16be", "utf7"],
)
def test_doctype_is_refused_wherever_the_prolog_hides_it(doc: bytes) -> None:
    with pytest.raises(UnsafeXMLError):
        safe_parse(doc)


def test_doctype_in_str_input_is_refused() -> None:
    with pytest.raises(UnsafeXMLError):
        safe_parse('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')


def test_doctype_text_inside_content_is_just_text() -> None:
    root = safe_parse(b"<a><!-- <!DOCTYPE x> --><![CDATA[<!DOCTYPE x>]]></a>")
    assert root.text == "<!DOCTYPE x>"


@pytest.mark.parametrize(
    "doc",
    [
        "<?xml version='1.0' encoding='UTF-16'?><a>Zoë</a>".encode("utf-16"),
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>Zoë</a>'.encode("latin-1"),
        '<?xml version="1.0" encoding="UTF-8"?><a>Zoë</a>'.encode(),
        codecs.BOM_UTF8 + "<a>Zoë</a>".encode(),
        # A str keeps its characters whatever its declaration claims.
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>Zoë</a>',
        '<?xml version="1.0" encoding="UTF-16"?><a>Zoë</a>',
    ],
    ids=["utf16-bom", "latin1", "utf8", "utf8-bom", "str-latin1-decl", "str-utf16-decl"],
)
def test_encodings_are_honoured(doc: bytes | str) -> None:
    assert safe_parse(doc).text == "Zoë"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (b"", "empty"),
        (b"<LeadManagement><Prospects><Prospect>", "line 1"),
        (b"<a></b>", "mismatch"),
        (b"<html><body>502 Bad Gateway</body>", "line 1"),
        (b"not xml at all", "line 1"),
        (b"<a>&undeclared;</a>", "undeclared"),
        (b"<a>\x00</a>", "line 1"),
    ],
    ids=["empty", "truncated", "mismatch", "truncated-html", "text", "entity", "nul"],
)
def test_malformed_xml_raises_with_lxml_position(doc: bytes, expected: str) -> None:
    with pytest.raises(MalformedXMLError, match=f"(?i){expected}"):
        safe_parse(doc)


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0" encoding="x-no-such-codec"?><a/>',
        b'<?xml version="1.0" encoding="base64"?><a/>',
        b'<?xml version="1.0" encoding="ISO-2022-JP"?><a>\x1b$\xff</a>',
    ],
    ids=["unknown", "not-a-text-codec", "invalid-bytes"],
)
def test_unusable_encodings_are_malformed(doc: bytes) -> None:
    with pytest.raises(MalformedXMLError, match=r"encoding|not valid"):
        safe_parse(doc)


def test_parsers_are_safe_to_use_from_many_threads() -> None:
    docs = [f"<a><b>{i}</b></a>".encode() for i in range(400)]

    def parse_b(doc: bytes) -> str | None:
        return safe_parse(doc)[0].text

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(parse_b, docs))
    assert results == [str(i) for i in range(400)]
