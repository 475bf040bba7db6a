"""A month's report as PDF (ReportLab), with matplotlib charts of payers, shares and aid per run.

Rendered from the report's JSON only (the frozen body for a closed month), so the PDF shows
exactly what was hashed. Chinese text uses ReportLab's built-in CID font (no font file needed);
the charts' Chinese labels need a CJK font file for matplotlib (its own fonts have no CJK glyphs):
Noto Sans CJK from Debian's fonts-noto-cjk, set explicitly on every label."""
from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render to memory

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # noqa: E402
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # noqa: E402

from .money import fen_to_yuan_text  # noqa: E402

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22)
_TEXT = ParagraphStyle("text", fontName=FONT, fontSize=9, leading=13)


def yuan(fen: int | None) -> str:
    return "—" if fen is None else fen_to_yuan_text(fen, form="ledger")


def _table(rows: list[list], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]))
    return table


# Debian's fonts-noto-cjk (scripts/browser_packages.sh; the image installs it too), then other common places.
CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
                  "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cjk_font() -> FontProperties | None:
    """The first CJK font file found (matplotlib reads .ttc collections), or None (labels fall back
    to matplotlib's default font: the Chinese would show as empty boxes, so it is logged)."""
    for path in CJK_FONT_FILES:
        if Path(path).exists():
            return FontProperties(fname=path)
    log.warning("no CJK font for the report charts", extra={"looked_in": list(CJK_FONT_FILES)})
    return None


CHART_SERIES = (("payers", "每期付款人数", 1), ("share_fen", "每人分摊（元）", 100),
                ("aid_collected_fen", "每期筹集互助金（元）", 100))


def charts_png(history: list[dict], *, dpi: int = 110) -> bytes:
    """Payers, share and aid collected per run, three small line charts in one PNG, labelled in Chinese."""
    font = cjk_font()
    figure, axes = plt.subplots(1, 3, figsize=(9, 2.6), dpi=dpi)
    x = list(range(1, len(history) + 1))
    for ax, (key, title, divisor) in zip(axes, CHART_SERIES):
        ax.plot(x, [h[key] / divisor for h in history], marker="o", linewidth=1.2)
        ax.set_title(title, fontproperties=font, fontsize=8)
        ax.set_xlabel("分摊期次", fontproperties=font, fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # runs are counted: 1, 2, 3
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    plt.close(figure)
    return out.getvalue()


def render(entry: dict) -> bytes:
    """entry: {"period", "frozen", "sha256", "report"} as `reports.monthly` returns it."""
    report = entry["report"]
    flows, custody = report["flows"], report["custody"]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"{report['plan']} {entry['period']}", invariant=1)
    story = [
        Paragraph(f"{report['plan_name']} 财务报告 {entry['period']}", _TITLE),
        Paragraph(f"计划 {report['plan']}；期间 {report['from']} 至 {report['to']}（北京时间整月）", _TEXT),
        Paragraph("已封存，SHA-256 " + entry["sha256"] if entry["frozen"] else "本月尚未结束：数字会变化", _TEXT),
        Spacer(1, 4 * mm),
        _table([["项目", "期初", "期末"]] + [
            [label, yuan(report["opening"][key]), yuan(report["closing"][key])]
            for label, key in (("会员余额", "member_fen"), ("计划结余", "plan_surplus_fen"),
                               ("应付互助金", "aid_payable_fen"), ("分摊中资金", "plan_pool_fen"),
                               ("退款途中", "refund_pending_fen"))], [60 * mm, 45 * mm, 45 * mm]),
        Spacer(1, 3 * mm),
        _table([["本期发生", "金额"]] + [[label, yuan(flows[key])] for label, key in (
            ("收到的钱（微信支付）", "money_received_fen"), ("会员自己充值", "topups_own_fen"),
            ("他人资助充值", "topups_sponsored_fen"), ("分摊扣款", "deductions_fen"),
            ("计入应付互助金", "aid_payable_added_fen"), ("已付互助金", "aid_paid_fen"),
            ("退出转退款", "balances_to_refund_fen"), ("已退款", "refunds_fen"), ("管理费", "fees_fen"),
            ("结余变化", "surplus_change_fen"))], [90 * mm, 60 * mm]),
        Spacer(1, 3 * mm),
        Paragraph("托管恒等式（累计至期末）：收到 − 退回 − 已付互助金 − 管理费 = 会员余额 + 结余 + 应付互助金 + 在途", _TEXT),
        _table([["左边", "金额", "右边", "金额"],
                ["收到", yuan(custody["money"]["money_received_fen"]), "会员余额",
                 yuan(custody["held"]["member_balances_fen"])],
                ["退回", yuan(custody["money"]["money_returned_fen"]), "结余", yuan(custody["held"]["surplus_fen"])],
                ["已付互助金", yuan(custody["money"]["aid_paid_fen"]), "应付互助金",
                 yuan(custody["held"]["aid_payable_fen"])],
                ["管理费", yuan(custody["money"]["fees_fen"]), "在途（分摊中+退款中）",
                 yuan(custody["held"]["pool_in_run_fen"] + custody["held"]["refunds_on_their_way_fen"])],
                ["合计", yuan(custody["money"]["total_fen"]), "合计", yuan(custody["held"]["total_fen"])]],
               [35 * mm, 40 * mm, 45 * mm, 40 * mm]),
        Paragraph("两边相等" if custody["balanced"] else "两边不相等：请联系我们", _TEXT),
        Spacer(1, 3 * mm),
        _table([["分摊", "案例", "付款人数", "每人", "收取", "暂停", "结余前", "结余后"]] + [
            [str(r["run_id"]), str(r["cases"]), str(r["payers"]), yuan(r["share_fen"]), yuan(r["collected_fen"]),
             str(r["suspended"]), yuan(r["surplus_before_fen"]), yuan(r["surplus_after_fen"])]
            for r in report["runs"]] or [["分摊"] + ["本期没有分摊"] + [""] * 6],
            [14 * mm, 14 * mm, 20 * mm, 18 * mm, 30 * mm, 14 * mm, 24 * mm, 24 * mm]),
        Spacer(1, 4 * mm),
    ]
    if report["history"]:
        story.append(Image(io.BytesIO(charts_png(report["history"])), width=178 * mm, height=51 * mm))
    doc.build(story)
    return out.getvalue()
