"""A local Exchange Web Services endpoint (SOAP over HTTP, basic auth) for exchangelib tests.

No Exchange Server can run here, so this answers the operations Trawler's EWS code
sends, with responses shaped as the EWS schema (Messages.xsd / Types.xsd) says. Each
handler names the Microsoft page its shape follows; all live under
https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/ :

- envelope, ServerVersionInfo header, ResponseClass/ResponseCode: "ews-xml-elements-in-exchange"
  and "responsecode" (ErrorItemNotFound, ErrorFolderNotFound, ErrorFolderExists, ...)
- ExchangeImpersonation header (ConnectingSID/PrimarySmtpAddress): "exchangeimpersonation"
- GetFolder: "getfolder-operation"          FindFolder: "findfolder-operation"
- CreateFolder: "createfolder-operation"    FindItem: "finditem-operation"
  (restriction: "isequalto", field URI "message:InternetMessageId": "fielduri")
- GetItem with MimeContent (base64, CharacterSet): "getitem-operation-email-message",
  "mimecontent"
- MoveItem (the moved item gets a new ItemId, as on Exchange): "moveitem-operation"
- SyncFolderItems (SyncState, IncludesLastItemInRange, Changes/Create):
  "syncfolderitems-operation"

Only what exchangelib sends for these calls is understood; anything else is answered
with a SOAP fault naming the operation, so a new call shows up as a clear test failure.
"""

from __future__ import annotations

import base64
import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
PATH = "/EWS/Exchange.asmx"

# Distinguished folders every mailbox has; "root" holds the non-IPM subtree and
# "msgfolderroot" ("Top of Information Store") the folders a user sees.
_WELL_KNOWN = (
    ("root", None, None, "root"),
    ("msgfolderroot", "root", "IPF.Note", "Top of Information Store"),
    ("inbox", "msgfolderroot", "IPF.Note", "Inbox"),
    ("sentitems", "msgfolderroot", "IPF.Note", "Sent Items"),
    ("deleteditems", "msgfolderroot", "IPF.Note", "Deleted Items"),
    ("junkemail", "msgfolderroot", "IPF.Note", "Junk Email"),
    ("calendar", "msgfolderroot", "IPF.Appointment", "Calendar"),
)
_MID_RE = re.compile(rb"^message-id:[ \t]*(.*?)\r?$", re.I | re.M)


@dataclass
class Folder:
    id: str
    parent: str | None
    folder_class: str | None
    name: str
    distinguished: str | None = None


@dataclass
class Item:
    id: str
    folder: str
    mime: bytes
    message_id: str
    seq: int  # creation order in its folder's change log (SyncFolderItems)


@dataclass
class Mailbox:
    address: str
    folders: dict[str, Folder] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)


class EwsServer:
    """In-memory mailboxes behind one EWS endpoint; tests deliver and inspect directly."""

    def __init__(self, users: dict[str, str], impersonator: str | None = None) -> None:
        self.users = users  # basic-auth name -> password
        self.impersonator = impersonator  # the only account allowed to impersonate
        self.mailboxes: dict[str, Mailbox] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, mailbox) for assertions
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- test-side helpers ---------------------------------------------------------------

    def mailbox(self, address: str) -> Mailbox:
        address = address.lower()
        box = self.mailboxes.get(address)
        if box is None:
            box = self.mailboxes[address] = Mailbox(address)
            for dist, parent, cls, name in _WELL_KNOWN:
                fid = self._new_id("F")
                parent_id = (next(f.id for f in box.folders.values()
                                  if f.distinguished == parent) if parent else None)
                box.folders[fid] = Folder(fid, parent_id, cls, name, dist)
        return box

    def add_folder(self, address: str, name: str, parent: str = "msgfolderroot",
                   folder_class: str = "IPF.Note") -> str:
        box = self.mailbox(address)
        fid = self._new_id("F")
        box.folders[fid] = Folder(fid, self._folder_id(box, parent), folder_class, name)
        return fid

    def deliver(self, address: str, raw: bytes, folder: str = "inbox") -> str:
        box = self.mailbox(address)
        fid = self._folder_id(box, folder)
        match = _MID_RE.search(raw.split(b"\r\n\r\n", 1)[0])
        mid = match.group(1).decode("utf-8", "replace").strip() if match else ""
        item = Item(self._new_id("I"), fid, raw, mid, next(self._seq))
        box.items[item.id] = item
        return item.id

    def folder_names(self, address: str) -> dict[str, list[str]]:
        """Folder display name -> Message-IDs held there."""
        box = self.mailbox(address)
        out: dict[str, list[str]] = {}
        for item in box.items.values():
            out.setdefault(box.folders[item.folder].name, []).append(item.message_id)
        return out

    def _folder_id(self, box: Mailbox, ref: str) -> str:
        for f in box.folders.values():
            if ref in (f.id, f.distinguished) or (f.distinguished is None and f.name == ref):
                return f.id
        raise KeyError(ref)

    def _new_id(self, kind: str) -> str:
        # Real ids are long base64 blobs; the shape matters less than being opaque.
        return base64.b64encode(f"AAMk{kind}{next(self._ids):08d}".encode()).decode()

    # -- HTTP ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.url = f"http://{host}:{bound[1]}{PATH}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        user = self._auth(request.headers.get("Authorization", ""))
        if user is None:
            # "401 Unauthorized" with a Basic challenge, as IIS answers EWS.
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="ews"'})
        try:
            doc = ET.fromstring(await request.read())
        except ET.ParseError:
            return _fault("ErrorSchemaValidation", "request is not XML")
        body = doc.find(f"{{{S}}}Body")
        if body is None or len(body) == 0:
            return _fault("ErrorSchemaValidation", "no SOAP body")
        op = body[0]
        name = op.tag.rpartition("}")[2]
        target = doc.find(f".//{{{T}}}ExchangeImpersonation//{{{T}}}PrimarySmtpAddress")
        if target is not None and target.text:
            if user != self.impersonator:
                return _fault("ErrorImpersonateUserDenied",
                              "The account does not have permission to impersonate")
            address = target.text.strip().lower()
        else:
            address = user.lower()
        self.calls.append((name, address))
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            return _fault("ErrorInvalidRequest", f"operation {name} not supported here")
        box = self.mailbox(address)
        return _envelope(name, handler(box, op))

    def _auth(self, header: str) -> str | None:
        if not header.startswith("Basic "):
            return None
        try:
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return name if self.users.get(name) == password else None

    # -- operations: each returns the <m:...ResponseMessage> elements --------------------

    def _op_GetFolder(self, box: Mailbox, op: ET.Element) -> list[str]:
        out = []
        for ref in _folder_refs(op.find(f"{{{M}}}FolderIds")):
            f = self._lookup(box, ref)
            out.append(_error("GetFolder", "ErrorFolderNotFound") if f is None else
                       _ok("GetFolder", f"<m:Folders>{_folder_xml(box, f)}</m:Folders>"))
        return out

    def _op_FindFolder(self, box: Mailbox, op: ET.Element) -> list[str]:
        deep = op.get("Traversal") == "Deep"
        out = []
        for ref in _folder_refs(op.find(f"{{{M}}}ParentFolderIds")):
            parent = self._lookup(box, ref)
            if parent is None:
                out.append(_error("FindFolder", "ErrorFolderNotFound"))
                continue
            found = self._children(box, parent.id, deep)
            xml = "".join(_folder_xml(box, f) for f in found)
            out.append(_ok("FindFolder",
                           f'<m:RootFolder TotalItemsInView="{len(found)}" '
                           f'IncludesLastItemInRange="true"><t:Folders>{xml}</t:Folders>'
                           "</m:RootFolder>"))
        return out

    def _op_CreateFolder(self, box: Mailbox, op: ET.Element) -> list[str]:
        parent = self._lookup(box, _folder_refs(op.find(f"{{{M}}}ParentFolderId"))[0])
        if parent is None:
            return [_error("CreateFolder", "ErrorParentFolderNotFound")]
        out = []
        folders = op.find(f"{{{M}}}Folders")
        for spec in folders if folders is not None else []:
            name = spec.findtext(f"{{{T}}}DisplayName") or ""
            cls = spec.findtext(f"{{{T}}}FolderClass") or "IPF.Note"
            if any(f.parent == parent.id and f.name.lower() == name.lower()
                   for f in box.folders.values()):
                out.append(_error("CreateFolder", "ErrorFolderExists"))
                continue
            fid = self._new_id("F")
            box.folders[fid] = Folder(fid, parent.id, cls, name)
            out.append(_ok("CreateFolder",
                           f"<m:Folders><t:Folder>{_fid(fid)}</t:Folder></m:Folders>"))
        return out

    def _op_FindItem(self, box: Mailbox, op: ET.Element) -> list[str]:
        wanted = _restriction_message_id(op.find(f"{{{M}}}Restriction"))
        refs = _folder_refs(op.find(f"{{{M}}}ParentFolderIds"))
        out = []
        for ref in refs:
            folder = self._lookup(box, ref)
            if folder is None:
                out.append(_error("FindItem", "ErrorFolderNotFound"))
                continue
            items = [i for i in box.items.values() if i.folder == folder.id
                     and (wanted is None or i.message_id == wanted)]
            xml = "".join(_item_xml(box, i, mime=False) for i in items)
            out.append(_ok("FindItem",
                           f'<m:RootFolder TotalItemsInView="{len(items)}" '
                           f'IncludesLastItemInRange="true"><t:Items>{xml}</t:Items>'
                           "</m:RootFolder>"))
        return out

    def _op_GetItem(self, box: Mailbox, op: ET.Element) -> list[str]:
        out = []
        for ref in op.iter(f"{{{T}}}ItemId"):
            item = box.items.get(ref.get("Id", ""))
            out.append(_error("GetItem", "ErrorItemNotFound") if item is None else
                       _ok("GetItem", f"<m:Items>{_item_xml(box, item, mime=True)}</m:Items>"))
        return out

    def _op_MoveItem(self, box: Mailbox, op: ET.Element) -> list[str]:
        dest = self._lookup(box, _folder_refs(op.find(f"{{{M}}}ToFolderId"))[0])
        out = []
        ids = op.find(f"{{{M}}}ItemIds")
        for ref in ids.iter(f"{{{T}}}ItemId") if ids is not None else []:
            item = box.items.pop(ref.get("Id", ""), None)
            if item is None:
                out.append(_error("MoveItem", "ErrorItemNotFound"))
                continue
            if dest is None:
                box.items[item.id] = item
                out.append(_error("MoveItem", "ErrorFolderNotFound"))
                continue
            moved = Item(self._new_id("I"), dest.id, item.mime, item.message_id,
                         next(self._seq))
            box.items[moved.id] = moved
            out.append(_ok("MoveItem", f"<m:Items><t:Message>{_iid(moved.id)}"
                                       "</t:Message></m:Items>"))
        return out

    def _op_SyncFolderItems(self, box: Mailbox, op: ET.Element) -> list[str]:
        folder = self._lookup(box, _folder_refs(op.find(f"{{{M}}}SyncFolderId"))[0])
        if folder is None:
            return [_error("SyncFolderItems", "ErrorFolderNotFound")]
        state_text = (op.findtext(f"{{{M}}}SyncState") or "").strip()
        try:
            after = int(base64.b64decode(state_text).decode()) if state_text else 0
        except (ValueError, UnicodeDecodeError):
            return [_error("SyncFolderItems", "ErrorInvalidSyncStateData")]
        limit = int(op.findtext(f"{{{M}}}MaxChangesReturned") or "100")
        pending = sorted((i for i in box.items.values()
                          if i.folder == folder.id and i.seq > after), key=lambda i: i.seq)
        page = pending[:limit]
        last = page[-1].seq if page else after
        state = base64.b64encode(str(last).encode()).decode()
        changes = "".join(f"<t:Create>{_item_xml(box, i, mime=False)}</t:Create>" for i in page)
        return [_ok("SyncFolderItems",
                    f"<m:SyncState>{state}</m:SyncState>"
                    f"<m:IncludesLastItemInRange>{str(len(pending) <= limit).lower()}"
                    f"</m:IncludesLastItemInRange><m:Changes>{changes}</m:Changes>")]

    # -- lookups -------------------------------------------------------------------------

    def _lookup(self, box: Mailbox, ref: tuple[str, str]) -> Folder | None:
        kind, value = ref
        for f in box.folders.values():
            if (kind == "id" and f.id == value) or (kind == "dist" and f.distinguished == value):
                return f
        return None

    def _children(self, box: Mailbox, parent: str, deep: bool) -> list[Folder]:
        out: list[Folder] = []
        for f in box.folders.values():
            if f.parent == parent:
                out.append(f)
                if deep:
                    out += self._children(box, f.id, deep)
        return out


def _folder_refs(elem: ET.Element | None) -> list[tuple[str, str]]:
    if elem is None:
        return []
    refs = []
    for child in elem:
        tag = child.tag.rpartition("}")[2]
        if tag == "FolderId":
            refs.append(("id", child.get("Id", "")))
        elif tag == "DistinguishedFolderId":
            refs.append(("dist", child.get("Id", "")))
    return refs


def _restriction_message_id(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    eq = elem.find(f".//{{{T}}}IsEqualTo")
    uri = eq.find(f"{{{T}}}FieldURI") if eq is not None else None
    const = eq.find(f".//{{{T}}}Constant") if eq is not None else None
    if uri is None or const is None or uri.get("FieldURI") != "message:InternetMessageId":
        raise ValueError("only an InternetMessageId IsEqualTo restriction is understood")
    return const.get("Value", "")


def _fid(fid: str) -> str:
    return f'<t:FolderId Id="{fid}" ChangeKey="AQAAAA=="/>'


def _iid(iid: str) -> str:
    return f'<t:ItemId Id="{iid}" ChangeKey="CQAAAA=="/>'


def _folder_xml(box: Mailbox, f: Folder) -> str:
    parent = f'<t:ParentFolderId Id="{f.parent}" ChangeKey="AQAAAA=="/>' if f.parent else ""
    cls = f"<t:FolderClass>{escape(f.folder_class)}</t:FolderClass>" if f.folder_class else ""
    count = sum(1 for i in box.items.values() if i.folder == f.id)
    kids = sum(1 for c in box.folders.values() if c.parent == f.id)
    return (f"<t:Folder>{_fid(f.id)}{parent}{cls}<t:DisplayName>{escape(f.name)}"
            f"</t:DisplayName><t:TotalCount>{count}</t:TotalCount><t:ChildFolderCount>"
            f"{kids}</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>")


def _item_xml(box: Mailbox, item: Item, *, mime: bool) -> str:
    body = ""
    if mime:
        body = (f'<t:MimeContent CharacterSet="UTF-8">'
                f"{base64.b64encode(item.mime).decode()}</t:MimeContent>")
    return (f"<t:Message>{body}{_iid(item.id)}"
            f'<t:ParentFolderId Id="{item.folder}" ChangeKey="AQAAAA=="/>'
            f"<t:InternetMessageId>{escape(item.message_id)}</t:InternetMessageId>"
            "</t:Message>")


def _ok(op: str, inner: str) -> str:
    return (f'<m:{op}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
            f"</m:ResponseCode>{inner}</m:{op}ResponseMessage>")


def _error(op: str, code: str) -> str:
    return (f'<m:{op}ResponseMessage ResponseClass="Error"><m:MessageText>{code}'
            f"</m:MessageText><m:ResponseCode>{code}</m:ResponseCode>"
            f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{op}ResponseMessage>")


def _envelope(op: str, messages: list[str]) -> web.Response:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{S}"><s:Header>'
        f'<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
        f'MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="{T}"/>'
        f'</s:Header><s:Body><m:{op}Response xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages>"
        f"</m:{op}Response></s:Body></s:Envelope>"
    )
    return web.Response(body=xml.encode(), content_type="text/xml", charset="utf-8")


def _fault(code: str, text: str) -> web.Response:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{S}"><s:Body><s:Fault>'
        f"<faultcode xmlns:a=\"{T}\">a:{code}</faultcode>"
        f"<faultstring xml:lang=\"en-US\">{escape(text)}</faultstring>"
        f"<detail><e:ResponseCode xmlns:e=\"{T}\">{code}</e:ResponseCode>"
        f"<e:Message xmlns:e=\"{T}\">{escape(text)}</e:Message></detail>"
        "</s:Fault></s:Body></s:Envelope>"
    )
    return web.Response(status=500, body=xml.encode(), content_type="text/xml",
                        charset="utf-8", headers={"X-Debug": quoteattr(code)})
