defmodule Distro.DistroCal do
  @moduledoc "Adds numbers; registered globally, so it answers wherever it runs."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, [])

  def add(x, y), do: GenServer.call({:global, __MODULE__}, {:cal, x, y})

  # At a takeover the new instance starts while the old one still holds the
  # name (it stops right after): take the name over, as myapp_server and
  # distro's Rust Distro.DistroCal do. `name: {:global, __MODULE__}` would
  # fail with :already_started and the takeover with it.
  @impl true
  def init(_) do
    :yes = :global.re_register_name(__MODULE__, self())
    {:ok, nil}
  end

  @impl true
  def handle_call({:cal, x, y}, _from, state), do: {:reply, x + y, state}
end
