"""Settings: a parser class of our own with a readfp method (delegating to read_file)."""
import configparser


class Settings(configparser.ConfigParser):
    def readfp(self, fp, source=None):
        """Kept for old callers; reads with the 3.12 API."""
        self.read_file(fp, source)


def load(path):
    settings = Settings()
    with open(path) as fh:
        settings.readfp(fh)  # our own method
    return settings


def load_plain(path):
    parser = configparser.ConfigParser()
    with open(path) as fh:
        parser.read_file(fh)
    return parser
