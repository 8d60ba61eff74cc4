"""The baseline of `make load`: a hello-world Flask app, served by gunicorn like the platform."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    """The least a request can cost this web tier."""
    return "hello, world"
