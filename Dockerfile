# SPDX-License-Identifier: Apache-2.0
# The assay command in a container: built on Debian 12, run on Debian 12 slim with only the
# runtime libraries, as a non-root user, reading and writing under /data.
#
# NOTE: this image has not been built by the project: its machines have no access to a container
# registry. It follows the build steps the README and CI use (Debian 12 packages, CMake); report
# a failure as a bug.
#
#   docker build -t assay:0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -v "$PWD:/data" assay:0.1.0 scan train.h5 --out report

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake make gcc libc6-dev pkg-config \
        libopenblas-dev libhdf5-dev libcsv-dev libssl-dev libjansson-dev libyaml-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The kernels for every x86-64 / AArch64 instruction set are built in and chosen at run time,
# so the image runs on any CPU of its architecture.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DASSAY_BUILD_TESTS=OFF \
        -DASSAY_BUILD_BENCH=OFF -DASSAY_BUILD_DATASETS=OFF \
 && cmake --build /build --target assay_cli -j"$(nproc)" \
 && install -D -m 0755 /build/assay /out/usr/local/bin/assay

FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Training-data poisoning detector: scans labelled embeddings and gates on the findings" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0 libhdf5-103-1 libcsv3 libssl3 \
        libjansson4 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 assay \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin assay \
 && install -d -o 10001 -g 10001 /data
COPY --from=build /out/ /
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /data
ENTRYPOINT ["assay"]
CMD ["--help"]
