"""The bare baseline of bench/api_load.py: Flask + Flask-SQLAlchemy reading one membership by primary key,
served by the same gunicorn settings (deploy/gunicorn.conf.py) as the API. DATABASE_URL: the bench database."""
from __future__ import annotations

import os

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)


class Membership(db.Model):
    __tablename__ = "memberships"
    id = db.Column(db.BigInteger, primary_key=True)
    plan_id = db.Column(db.BigInteger)
    state = db.Column(db.String(20))


@app.get("/memberships/<int:membership_id>")
def one(membership_id: int):
    m = db.session.get(Membership, membership_id)
    return jsonify(id=m.id, plan_id=m.plan_id, state=m.state)
