defmodule Distro.MixProject do
  use Mix.Project

  # The seed's demo: a distributed application whose Distro.DistroCal
  # server is registered globally and moves between nodes.
  def project do
    [app: :distro, version: "0.1.0", elixir: "~> 1.12", deps: []]
  end

  def application do
    [extra_applications: [:logger], mod: {Distro.Application, []}]
  end
end
