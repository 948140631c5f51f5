import asyncio
import configparser
import imp  # expect: PY302
import inspect
import locale
import ssl
from datetime import datetime
from distutils.core import setup  # expect: PY301
import distutils.version as dv  # expect: PY301
import asyncore, asynchat  # expect: PY303
import smtpd  # expect: PY303
import numpy.distutils  # expect: PY310
import datetime as dt_mod


def version(v):
    return dv.LooseVersion(v)  # expect: PY301


parser = configparser.SafeConfigParser()  # expect: PY304
text = locale.format("%d", 1234, grouping=True)  # expect: PY305
sock = ssl.wrap_socket(object())  # expect: PY306
spec = inspect.getargspec(version)  # expect: PY307
module = imp.load_source("x", "x.py")  # expect: PY302


@asyncio.coroutine  # expect: PY308
def old_style():
    yield


now = datetime.utcnow()  # expect: PY309
then = dt_mod.datetime.utcfromtimestamp(0)  # expect: PY309
fine = datetime.now()
