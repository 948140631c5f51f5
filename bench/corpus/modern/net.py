"""TLS with contexts (3.12 API), and a locale helper of our own."""
import locale
import smtplib
import ssl
from http.client import HTTPSConnection


class Formatter:
    def format(self, pattern, value):
        return locale.format_string(pattern, value, grouping=True)


def money(amount):
    return Formatter().format("%.2f", amount)


def post(host, payload):
    context = ssl.create_default_context()
    context.load_cert_chain("client.pem", "client.key")
    conn = HTTPSConnection(host, context=context)
    conn.request("POST", "/hooks", payload)
    return conn.getresponse().status


def send(host, user, body):
    context = ssl.create_default_context()
    with smtplib.SMTP_SSL(host, context=context) as server:
        server.sendmail(user, [user], body)
