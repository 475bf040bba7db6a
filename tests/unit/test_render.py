from app.services.delivery import Row, render
from app.services.subscriptions import load_templates
from config import SUBSCRIBE_TEMPLATES_FILE


def _topup_row(kind: str) -> Row:
    return Row(id=1, kind=kind, template_key="topup_credited", amount_fen=1_050, claim_id=None, openid="o",
               plan_name="成人互助", person_name="张*", balance_fen=1_050)


def test_own_and_sponsor_topups_share_the_template_but_not_the_note():
    template = load_templates(str(SUBSCRIBE_TEMPLATES_FILE))["topup_credited"]
    own, sponsored = render(template, _topup_row("topup")), render(template, _topup_row("sponsor_topup"))
    assert own["amount2"] == sponsored["amount2"] == "10.50元"
    assert own["thing1"] == "张*·成人互助"
    assert own["thing3"] == "充值已到账，感谢参与互助"
    assert sponsored["thing3"] == "有人为您的互助充值了"
