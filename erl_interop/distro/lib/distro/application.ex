defmodule Distro.Application do
  @moduledoc false
  use Application
  require Logger

  @impl true
  def start(type, _args) do
    Logger.info("Distro application in #{inspect(type)} mode")

    children = [Distro.DistroCal]
    Supervisor.start_link(children, strategy: :one_for_one, name: Distro.Supervisor)
  end
end
