"""Pipeline settings from pipeline.ini."""
import configparser
import os


def load(path=None):
    parser = configparser.SafeConfigParser()  # breaks: SafeConfigParser removed in Python 3.12
    with open(path or os.environ.get("KYROS_INI", "pipeline.ini")) as fh:
        parser.readfp(fh)  # breaks: ConfigParser.readfp removed in Python 3.12
    return parser


def load_defaults(path):
    parser = configparser.ConfigParser()
    parser.readfp(open(path))  # breaks: ConfigParser.readfp removed in Python 3.12
    return dict(parser["defaults"])
