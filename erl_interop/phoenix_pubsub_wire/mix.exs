defmodule PhoenixPubSubWire.MixProject do
  use Mix.Project

  # Phoenix.PubSub with its PG2 adapter as phoenix_pubsub 2.2.0 shows
  # them on the wire (see README.md), for the interop tests: Hex is not
  # reachable where they run, so the library cannot be a dependency.
  def project do
    [app: :phoenix_pubsub_wire, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [extra_applications: [:logger], mod: {PhoenixPubSubWire.Application, []}]
  end
end
