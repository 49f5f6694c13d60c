# Trawler image: `trawler run` as a non-root user, HTTP on 8080, rules baked in at /rules
# (the Helm chart's git-sync sidecar replaces them with the rules repository).
# helm/trawler and tests/test_helm_chart.py rely on ENTRYPOINT, USER, EXPOSE and /rules.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 trawler \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/trawler \
       --shell /usr/sbin/nologin trawler \
    && install -d -o 10001 -g 10001 /var/lib/trawler
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY rules /rules
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRAWLER_DATA=/var/lib/trawler \
    TRAWLER_RULES=/rules \
    TRAWLER_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/trawler
EXPOSE 8080
ENTRYPOINT ["trawler"]
CMD ["run"]
