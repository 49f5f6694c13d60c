/*
  Attachment types that run code or mount a disk when opened. Business mail has no
  need to send shortcuts, disk images, OneNote notebooks, HTA or script files; each
  has been a main loader delivery format since macros were blocked in 2022.
*/

rule PHISH_Attach_Dangerous_ScriptOrShortcut
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e80"
        description = "Attachment that executes on double-click: Windows shortcut, HTA, JScript/VBScript/WSF, PowerShell, batch, or a Windows executable"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "malware"
        tactic = "initial_access"

    strings:
        $lnk = { 4C 00 00 00 01 14 02 00 }   // shell link header + CLSID start
        $mz = "MZ"
        // An Internet shortcut is harmless when it opens a web page; one that points at
        // a file share, WebDAV or a search-ms: query runs whatever sits there.
        $url_remote = /URL\s*=\s*(file:|\\\\|search-ms:|search:)/ nocase
    condition:
        part_kind == "attachment"
        and (
            // By content: the name can lie, the magic cannot.
            $lnk at 0
            or ($mz at 0 and uint32(0x3C) < filesize and uint32(uint32(0x3C)) == 0x00004550)
            // By name: Windows decides what runs from the extension.
            or (extension == "url" and $url_remote)
            or extension matches /^(lnk|hta|js|jse|vbs|vbe|wsf|wsh|ps1|bat|cmd|scr|pif|cpl|msi|msc|jar|xll|appref-ms|library-ms|search-ms|settingcontent-ms)$/
        )
}

rule PHISH_Attach_Dangerous_DiskImageOrNotebook
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e81"
        description = "Disk image (ISO/IMG/VHD/VHDX) or OneNote notebook attachment: containers used to slip executables past mark-of-the-web"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "malware"
        tactic = "initial_access"

    strings:
        $vhd = "conectix"
        $vhdx = "vhdxfile"
        $one = { E4 52 5C 7B 8C D8 A7 4D AE B1 53 78 D0 29 96 D3 }
    condition:
        part_kind == "attachment"
        and (
            content_type == "application/x-iso9660-image"
            or content_type matches /^application\/x-vhdx?$/
            or content_type == "application/onenote"
            or $vhd at 0 or $vhdx at 0 or $one at 0
            or extension matches /^(iso|img|vhd|vhdx|one|onepkg)$/
        )
}

rule PHISH_Attach_HTML_FormOrScript
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e82"
        description = "HTML, SHTML or SVG attachment that contains a password form or script: a local login page or a loader"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "html_attachment"

    strings:
        $pw = /<input[^>]{0,200}type\s*=\s*["']?password/ nocase
        $form = /<form[^>]{0,300}action\s*=/ nocase
        $script = /<script[\s>]/ nocase
        $onload = /\bon(load|error|mouseover)\s*=/ nocase
        $meta = /<meta[^>]{0,100}http-equiv\s*=\s*["']?refresh/ nocase
        $svg = /<svg[\s>]/ nocase
        $html = /<(html|body|head|!doctype|div|form)[\s>]/ nocase
    condition:
        part_kind == "attachment"
        and filesize < 10MB
        and (extension matches /^(html?|shtml?|xhtml|svg|svgz|mht|mhtml)$/
             or content_type matches /^(text\/html|image\/svg\+xml|application\/xhtml)/)
        and ($html or $svg)
        // A saved receipt is harmless markup; a page that asks for a password or runs
        // code as soon as it is opened is not.
        and ($pw or $form or $script or $onload or $meta)
}

rule PHISH_Attach_HTML_Smuggling
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e83"
        description = "HTML smuggling: markup that decodes an embedded payload (atob/Blob/msSaveOrOpenBlob/createObjectURL or a large data: URI) to build a file or page in the browser"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "malware"
        tactic = "html_smuggling"

    strings:
        $s1 = "msSaveOrOpenBlob" nocase
        $s2 = "createObjectURL" nocase
        $s3 = /new\s+Blob\s*\(/ nocase
        $s4 = /\batob\s*\(/ nocase
        $s5 = /\.download\s*=/ nocase
        $s6 = /document\.write\s*\(\s*(unescape|decodeURIComponent|atob)\s*\(/ nocase
        $s7 = /(src|href|data)\s*=\s*["']?data:(application|text\/html|image\/svg)[^;,]{0,40};base64,[A-Za-z0-9+\/]{2000}/ nocase
        $s8 = /window\.location(\.href)?\s*=\s*(atob|unescape|decodeURIComponent)\s*\(/ nocase
    condition:
        (part_kind == "attachment"
         and filesize < 20MB
         and (extension matches /^(html?|shtml?|xhtml|svg|svgz|mht|mhtml)$/
              or content_type matches /^(text\/html|image\/svg\+xml|application\/xhtml)/)
         // Two building blocks of a decoder: one alone is everyday JavaScript.
         and 2 of them)
        // The same trick in the message body itself.
        or (part_kind == "message" and ($s1 or $s7 or ($s3 and $s4 and ($s2 or $s5))))
}
