# The operator image: kubectl apply -k deploy/ expects it as hotfix-operator:0.1.0.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# Non-root, matching the Deployment's securityContext.
USER 65532:65532
ENTRYPOINT ["hotfix-operator"]
CMD ["run"]
