"""The public results page of a published stage: its standings and its certificate's short
fingerprint, rendered on the server (no script: it prints, it archives, it opens anywhere), styled
by static/results.css (the gateway's Content-Security-Policy allows no inline style)."""

from __future__ import annotations

from html import escape

from services.gateway.names import Names


def render(board: dict, certificate: dict, names: Names) -> bytes:
    """``board``: the published leaderboard; ``certificate``: its certificate (docs/audit.md);
    ``names``: what the contest's groups and criteria are called."""
    advanced = ' class="advanced"'
    rows = "\n".join(
        f"<tr{advanced if r['advanced'] else ''}><td>{r['rank']}</td><td>{escape(r['name'])}</td>"
        f'<td>{escape(names.group(r["group_id"]))}</td><td class="score">{escape(r["stage_score"])}</td>'
        f"<td>{'晋级' if r['advanced'] else ''}</td><td>{escape(names.decided_by(r.get('decided_by')))}</td></tr>"
        for r in board["standings"]
    )
    certificate_path = f"/contests/{escape(board['contest_id'])}/stages/{escape(board['stage_id'])}/certificate"
    pending = "（签名检查点生成中，稍后刷新可见完整证书）" if certificate["pending"] else ""
    fingerprint = (
        f'<span id="fingerprint" class="id" title="{escape(certificate["standings_sha256"])}">'
        f"{escape(certificate['fingerprint'])}</span>"
    )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(names.contest)} {escape(board["name"])} · 公布成绩</title>
<link rel="stylesheet" href="/pages/results.css">
</head>
<body>
<h1>{escape(names.contest)} {escape(board["name"])} · 公布成绩</h1>
<table>
<thead><tr><th scope="col">名次</th><th scope="col">姓名</th><th scope="col">分组</th><th scope="col">最后得分</th>
<th scope="col">晋级</th><th scope="col">并列决胜</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<footer>
成绩校验指纹 {fingerprint}{pending}<br>
<a href="{certificate_path}">成绩证书</a>；
核验方法见组织方提供的审计说明：任何人可用组织方公布的公钥，在自己的电脑上核验成绩由评分表按规则算出、记录未被改动。
</footer>
</body>
</html>
""".encode()
