"""The console's forms (Flask-WTF: every one carries the CSRF token)."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

_YUAN = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?$")


def yuan_to_fen(text: str) -> int:
    """'1234.5' → 123450, parsed as text (no float); raises ValueError on anything else."""
    match = _YUAN.match((text or "").strip())
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=60)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=200)])


class TotpForm(FlaskForm):
    code = StringField("动态口令", validators=[DataRequired(message="请输入6位动态口令"),
                                           Regexp(r"^\s*\d{6}\s*$", message="动态口令是6位数字")])


class ReturnForm(FlaskForm):
    missing = TextAreaField("需要补充的材料", validators=[DataRequired(message="请写明需要补充什么"), Length(max=500)])


class AssignForm(FlaskForm):
    organisation_id = SelectField("调查机构", coerce=int, validators=[DataRequired(message="请选择调查机构")])


class RejectForm(FlaskForm):
    reason = TextAreaField("拒绝理由（会员可见）", validators=[DataRequired(message="请写明理由"), Length(max=500)])


class ReportForm(FlaskForm):
    findings = TextAreaField("调查结论（案卷）", validators=[DataRequired(message="请填写调查结论"), Length(max=4000)])
    summary = TextAreaField("公示摘要", validators=[DataRequired(message="请填写公示摘要"), Length(max=1000)])
    aid_item_code = SelectField("互助金项目", validators=[DataRequired(message="请选择互助金项目")])
    approved_aid_yuan = StringField("核定互助金（元）", validators=[DataRequired(message="请填写核定金额")])

    def validate_approved_aid_yuan(self, field):
        try:
            if yuan_to_fen(field.data) <= 0:
                raise ValueError(field.data)
        except ValueError:
            raise ValidationError("金额为正数，最多两位小数") from None


class ResolveForm(FlaskForm):
    upheld = BooleanField("异议成立（案件退回调查）")
    resolution = TextAreaField("处理意见", validators=[DataRequired(message="请填写处理意见"), Length(max=1000)])


class RevealForm(FlaskForm):
    reason = TextAreaField("查看理由（记入审计日志）",
                           validators=[DataRequired(message="请写明查看理由"), Length(min=5, max=200,
                                                                               message="理由为5至200个字")])


class PrepareRunForm(FlaskForm):
    plan_code = SelectField("互助计划", validators=[DataRequired(message="请选择计划")])


class MemberLookupForm(FlaskForm):
    """A GET form: look-up only (no CSRF needed for reading, and none is checked on GET)."""

    class Meta:
        csrf = False

    membership_id = IntegerField("会员编号", validators=[Optional(), NumberRange(min=1, max=2**63 - 1)])
    id_number = StringField("完整身份证号", validators=[Optional(), Length(min=15, max=18)])
    masked_name = StringField("脱敏姓名（如 张*）", validators=[Optional(), Length(max=40)])
    id_last4 = StringField("身份证后四位", validators=[Optional(), Regexp(r"^[0-9Xx]{4}$", message="4位数字或X")])


class ResolveMismatchForm(FlaskForm):
    outcome = SelectField("处理结果", validators=[DataRequired(message="请选择处理结果")])
    note = TextAreaField("处理说明（记入审计日志）", validators=[
        DataRequired(message="请写明处理说明"), Length(min=5, max=500, message="说明为5至500个字")])


