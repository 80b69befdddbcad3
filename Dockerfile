FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# cgo: the records API embeds DuckDB (a static C++ library).
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /opendata ./cmd/opendata

# cc: glibc, libgcc and libstdc++ for the DuckDB part; nothing else.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /opendata /opendata
USER nonroot
ENTRYPOINT ["/opendata"]
