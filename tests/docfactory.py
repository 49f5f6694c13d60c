"""Build hostile and honest documents in code: OOXML, encrypted OOXML, zips, 7z, PDFs, mail."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from email.message import EmailMessage

import py7zr
import pyzipper
from msoffcrypto.format.ooxml import OOXMLFile
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
      'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
      'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
      'officedocument.wordprocessingml.document.main+xml"/></Types>')
ROOT_RELS = (f'<?xml version="1.0"?><Relationships xmlns="{R_NS}"><Relationship Id="rId1" '
             'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             'officeDocument" Target="word/document.xml"/></Relationships>')


def docx(text: str = "Quarterly report", body_xml: str | None = None,
         extra: dict[str, str | bytes] | None = None, pad: int = 9000) -> bytes:
    """A minimal .docx; padded past 8 KiB because msoffcrypto's encrypt needs > 4 KiB."""
    inner = body_xml or f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{W_NS}">'
                                         f"<w:body>{inner}</w:body></w:document>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        if pad:
            z.writestr("word/media/pad.bin", os.urandom(pad), zipfile.ZIP_STORED)
    return buf.getvalue()


def encrypt_ooxml(plain: bytes, password: str) -> bytes:
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt(password, out)
    return out.getvalue()


def zip_of(members: dict[str, bytes], password: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    if password is None:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        return buf.getvalue()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as z:
        z.setpassword(password)
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def sevenzip_of(members: dict[str, bytes], password: str | None = None) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password=password) as z:
        for name, data in members.items():
            z.writestr(data, name)
    return buf.getvalue()


def zip_bomb(megabytes: int = 1024) -> bytes:
    """One deflated member of `megabytes` MiB of zeros, in about 1 MB, built in ~1 s.

    A full flush resets the deflate dictionary, so every 1 MiB block compresses to the
    same bytes and the stream is one block repeated; only the CRC needs the real data.
    """
    chunk = b"\0" * (1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    body = block * megabytes + comp.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    name, size = b"zeros.bin", megabytes << 20
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body),
                        size, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                          len(body), size, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(body), 0)
    return local + body + central + end


def nested_zip(inner: bytes, name: str, layers: int) -> bytes:
    data = inner
    for i in range(layers):
        data = zip_of({name if i == 0 else f"layer{i}.zip": data})
    return data


def pdf(uri: str | None = None, javascript: str | None = None,
        embedded: dict[str, bytes] | None = None, launch: str | None = None) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    if uri is not None:
        annot = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([FloatObject(0), FloatObject(0),
                                              FloatObject(100), FloatObject(100)]),
            NameObject("/Border"): ArrayObject([NumberObject(0)] * 3),
            NameObject("/A"): DictionaryObject({
                NameObject("/S"): NameObject("/URI"),
                NameObject("/URI"): TextStringObject(uri),
            }),
        })
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
    if javascript is not None:
        action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                   NameObject("/JS"): TextStringObject(javascript)})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if launch is not None:
        action = DictionaryObject({NameObject("/S"): NameObject("/Launch"),
                                   NameObject("/F"): TextStringObject(launch)})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    for name, data in (embedded or {}).items():
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def mail(body: str = "Please see the attached file.", subject: str = "Invoice",
         attachments: list[tuple[str, bytes, str]] | None = None,
         sender: str = "billing@vendor.test") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "bob@corp.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<doc-1@vendor.test>"
    msg.set_content(body)
    for filename, data, ctype in attachments or []:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
