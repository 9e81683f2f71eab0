# seqr-emulator in a container: the emulator as `pip install .` installs it, serving every
# address of the container, its control API closed by the token the container is given.
#
#   docker build -t seqr-emulator .
#   docker run --rm -p 127.0.0.1:8090:8090 -e SEQR_EMULATOR_CONTROL_TOKEN="$TOKEN" seqr-emulator
#
# Without SEQR_EMULATOR_CONTROL_TOKEN (16 to 256 printable characters) the start refuses, in
# one line: --host 0.0.0.0 is not loopback. SEQR_EMULATOR_OPEN_CONTROL=true opens the control
# API instead, to whoever reaches the port. Every setting is an SEQR_EMULATOR_* variable.
# .ci/run carries out these commands without Docker; tests/test_dockerfile.py holds the two
# to the same words and the CMD to the emulator's own parser.
FROM python:3.11-slim

WORKDIR /src
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY scenarios ./scenarios
RUN pip install --no-cache-dir .
RUN useradd --create-home --uid 10001 emulator
USER emulator
WORKDIR /home/emulator

EXPOSE 8090
# GET /_emulator/health needs no token; wait-ready asks it at http://127.0.0.1:8090
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["seqr-emulator", "wait-ready", "--timeout", "4"]
CMD ["seqr-emulator", "serve", "--host", "0.0.0.0"]
