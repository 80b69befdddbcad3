FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /opendata ./cmd/opendata

FROM gcr.io/distroless/static-debian12
COPY --from=build /opendata /opendata
USER nonroot
ENTRYPOINT ["/opendata"]
