"""URL extraction from text, HTML, SVG, CSS, calendar files and attachments."""

from __future__ import annotations

import io
import zipfile

from service.urls import UrlCollector
from service.urls.documents import attachment_links, office_targets, pdf_uris
from service.urls.extract import html_links, ics_urls, markup_urls, text_urls
from tests.factories import attachment


def test_text_trims_sentence_punctuation_and_reads_backslashes() -> None:
    text = "See (https://a.example/x), then HTTPS:\\\\b.example\\y. End https://c.example/z."
    assert list(text_urls(text)) == ["https://a.example/x", "HTTPS://b.example/y",
                                     "https://c.example/z"]


def test_html_link_places_and_anchor_text() -> None:
    markup = """<html><head><meta http-equiv="Refresh" content="0; URL=https://r.example/">
      <style>.x{background:url('https://css.example/bg.png')}</style></head><body>
      <a href="https://evil.example/x">https://<b>paypal</b>.com</a>
      <form action="//post.example/collect"><input></form>
      <img src="data:image/png;base64,AAAA">
      <div style="background-image: url(https://inline.example/i.png)"></div>
      <a href="ht&#116;ps://entity.example/a">entity</a>
      <svg><a xlink:href="https://svg.example/"><text>t</text></a></svg>
      plain https://bare.example/p</body></html>"""
    links = {(link.url, link.where, link.text) for link in html_links(markup)}
    assert ("https://evil.example/x", "href", "https://paypal.com") in links
    assert ("https://r.example/", "refresh", "") in links
    assert ("https://css.example/bg.png", "css", "") in links
    assert ("//post.example/collect", "action", "") in links
    assert ("data:image/png;base64,AAAA", "src", "") in links
    assert ("https://inline.example/i.png", "css", "") in links
    assert ("https://entity.example/a", "href", "entity") in links
    assert ("https://svg.example/", "href", "t") in links
    assert ("https://bare.example/p", "text", "") in links


def test_fast_path_sees_entities_and_leaves_protocol_relative_to_the_scanner() -> None:
    markup = '<a href="h&#116;tps://e.example/">x</a><img src=//cdn.example/i>'
    assert list(markup_urls(markup)) == ["https://e.example/"]
    assert [link.url for link in html_links(markup)] == ["https://e.example/",
                                                         "//cdn.example/i"]


def test_ics_unfolds_lines() -> None:
    ics = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:Join at https://meet.evil.exa\r\n"
           " mple/room?id=1\\nthanks\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert list(ics_urls(ics)) == ["https://meet.evil.example/room?id=1"]


def _docx_with_external_link(url: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/_rels/document.xml.rels",
                    '<?xml version="1.0"?><Relationships><Relationship Id="rId9" '
                    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                    f'hyperlink" Target="{url}" TargetMode="External"/>'
                    '<Relationship Id="rId1" Type="styles" Target="styles.xml"/>'
                    "</Relationships>")
    return buf.getvalue()


def test_office_external_relationships_only() -> None:
    data = _docx_with_external_link("https://evil.example/doc?a=1&amp;b=2")
    assert list(office_targets(data)) == ["https://evil.example/doc?a=1&b=2"]
    att = attachment(data, "invoice.docx", "application/vnd.openxmlformats-officedocument."
                     "wordprocessingml.document")
    assert [(link.url, link.where) for link in attachment_links(att)] == [
        ("https://evil.example/doc?a=1&b=2", "office")]
    assert list(office_targets(b"PK\x03\x04 not really a zip")) == []


def test_pdf_uri_strings() -> None:
    pdf = (b"%PDF-1.4\n1 0 obj << /Type /Annot /Subtype /Link /A << /S /URI "
           b"/URI (https://evil.example/pdf\\)x) >> >> endobj\n%%EOF")
    assert list(pdf_uris(pdf)) == ["https://evil.example/pdf)x"]
    assert [link.url for link in attachment_links(attachment(pdf, "a.pdf"))] == [
        "https://evil.example/pdf)x"]


def test_svg_and_html_attachments() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><a href="https://svg.evil.example/">x</a></svg>'
    urls = [link.url for link in attachment_links(attachment(svg, "scan.svg", "image/svg+xml"))]
    assert "https://svg.evil.example/" in urls


def test_collector_normalizes_unwraps_and_dedups() -> None:
    c = UrlCollector(limit=3)
    c.add_text("https://www.google.com/url?q=https%3A%2F%2FEvil.Example%2Fx and "
               "HTTPS://evil.example:443/x and https://a.example/ https://b.example/ "
               "https://c.example/", "1")
    urls = c.urls()
    assert [u.url for u in urls] == ["https://evil.example/x", "https://a.example/",
                                     "https://b.example/"]
    assert urls[0].original.startswith("https://www.google.com/url?q=")
    assert c.full


def test_collector_records_an_opaque_wrapper() -> None:
    c = UrlCollector()
    c.add_text("https://protect-eu.mimecast.com/s/AbCd?domain=evil.example", "1")
    [url] = c.urls()
    assert url.wrapped_by == "mimecast"
    assert url.to_json()["wrapped_by"] == "mimecast"
