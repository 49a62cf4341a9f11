defmodule Distro.DistroCal do
  @moduledoc "Adds numbers; registered globally, so it answers wherever it runs."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, [], name: {:global, __MODULE__})

  def add(x, y), do: GenServer.call({:global, __MODULE__}, {:cal, x, y})

  @impl true
  def init(_), do: {:ok, nil}

  @impl true
  def handle_call({:cal, x, y}, _from, state), do: {:reply, x + y, state}
end
