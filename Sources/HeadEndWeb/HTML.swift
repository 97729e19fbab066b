/// HTML text helpers: escaping and the page frame every dashboard page shares.
public enum HTML {
    /// Escapes text for element content and quoted attribute values.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 38 || $0 == 60 || $0 == 62 || $0 == 34 || $0 == 39 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Percent-encodes a path segment or query value (device ids are already safe; this is belt and braces).
    public static func urlComponent(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    /// A whole page: the stylesheet from /static, the navigation with the user and a logout form.
    public static func page(title: String, user: String?, csrf: String?, body: String) -> String {
        var nav = "<a href=\"/\">Fleet</a>"
        if let user, let csrf {
            nav += " <span class=\"who\">\(escape(user))</span> <form class=\"inline\" method=\"post\" action=\"/logout\">"
                + hiddenCSRF(csrf) + "<button type=\"submit\">Log out</button></form>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · head-end</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="stylesheet" href="/static/dashboard.css"></head>
            <body><header><strong>head-end</strong> \(nav)</header><main>
            \(body)
            </main></body></html>
            """
    }

    public static func hiddenCSRF(_ token: String) -> String { "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(token))\">" }

    /// The dashboard's only stylesheet, served from /static/dashboard.css (no inline styles: the CSP forbids them).
    public static let stylesheet = """
        body { font-family: sans-serif; margin: 0; color: #222; }
        header { background: #2b3a4a; color: #fff; padding: .5em 1em; }
        header a, header .who { color: #fff; margin-left: 1em; }
        main { padding: 1em; }
        table { border-collapse: collapse; font-size: 90%; }
        th, td { border-bottom: 1px solid #ddd; padding: .2em .6em; text-align: left; }
        td.num { text-align: right; }
        .bad { color: #b00; font-weight: bold; }
        .ok { color: #070; }
        .chart { width: 100%; height: 360px; border: 1px solid #ccc; }
        .legend span { display: inline-block; margin-right: 1em; font-size: 85%; }
        form.inline { display: inline; }
        .error { color: #b00; }
        .axis { color: #555; font-size: 85%; }
        pre { white-space: pre-wrap; max-width: 60em; }
        """
}
