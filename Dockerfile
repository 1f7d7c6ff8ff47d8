# syntax=docker/dockerfile:1
# MCQ Test Analytics image: the official Airflow image + the project's exact pins (requirements.txt) +
# Java and the PostgreSQL JDBC driver for the Spark engine. The same image runs every Airflow component,
# the Spark standalone master and worker (pyspark's own launch scripts), the demo-data loader and the
# alert sink of docker-compose.yaml. No secret is baked in: everything sensitive comes from the runtime
# environment (.env with Docker Compose).
#
# One source of truth: AIRFLOW_VERSION must equal the apache-airflow pin in requirements.txt and
# PYTHON_VERSION the project's Python (tests/test_deployment.py checks both).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# Spark 4 needs Java 17+; override only if the base image's Debian no longer ships this package.
ARG JAVA_PACKAGE=openjdk-17-jre-headless
ENV MCQ_HOME=/opt/mcq

USER root
# /usr/lib/jvm/spark-java points at whichever JRE was installed, so JAVA_HOME is architecture-free.
# libpostgresql-jdbc-java provides /usr/share/java/postgresql.jar (MCQ_JDBC_JAR). Debian package versions
# are not pinned: the base image's release fixes them, and old point versions vanish from the mirrors.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends "${JAVA_PACKAGE}" libpostgresql-jdbc-java \
    && ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/spark-java \
    && test -x /usr/lib/jvm/spark-java/bin/java \
    && test -f /usr/share/java/postgresql.jar \
    && apt-get autoremove -yqq --purge \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p "${MCQ_HOME}" \
    && chown airflow:0 "${MCQ_HOME}"

ENV JAVA_HOME=/usr/lib/jvm/spark-java \
    MCQ_JDBC_JAR=/usr/share/java/postgresql.jar \
    SPARK_CONF_DIR=/opt/mcq/deploy/spark \
    PYSPARK_PYTHON=python \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/mcq/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/mcq/plugins

USER airflow
# Pins first, in their own layer, the way the Airflow image documents ("apache-airflow==" keeps pip from
# moving Airflow itself). pyspark builds from its source archive: the first build takes a few minutes.
COPY --chown=airflow:0 requirements.txt ${MCQ_HOME}/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r ${MCQ_HOME}/requirements.txt

# The project (what .dockerignore lets through: src, include, dags, plugins, deploy, run_etl.py,
# pyproject.toml, README.md), installed editable so mcq_analytics.paths finds include/ under MCQ_HOME.
COPY --chown=airflow:0 . ${MCQ_HOME}
RUN pip install --no-cache-dir --no-deps -e "${MCQ_HOME}" \
    && mkdir -p "${AIRFLOW_HOME}/config" "${AIRFLOW_HOME}/logs" \
    && python -c "import airflow.providers.apache.spark, airflow.providers.postgres, pyspark, mcq_analytics" \
    && command -v spark-submit && command -v spark-class && command -v mcq-generate

WORKDIR ${MCQ_HOME}
