"""Job notifications over SMTP and a secured REST endpoint."""
import locale
import smtplib
import ssl
import socket
from http.client import HTTPSConnection


def money(amount):
    return locale.format("%.2f", amount, grouping=True)  # breaks: locale.format removed in Python 3.12


def send(host, user, password, body):
    server = smtplib.SMTP_SSL(host, keyfile="/dbfs/keys/client.key", certfile="/dbfs/keys/client.pem")  # breaks: keyfile/certfile removed in Python 3.12
    server.login(user, password)
    server.sendmail(user, [user], body)


def post(host, payload):
    conn = HTTPSConnection(host, key_file="client.key", cert_file="client.pem")  # breaks: key_file/cert_file removed in Python 3.12
    conn.request("POST", "/hooks", payload)
    return conn.getresponse().status


def raw_tls(host):
    sock = socket.create_connection((host, 443))
    return ssl.wrap_socket(sock)  # breaks: ssl.wrap_socket removed in Python 3.12
