defmodule Phoenix.PubSub.PG2 do
  @moduledoc """
  The PG2 adapter's wire behaviour (phoenix_pubsub 2.2.0): `pool_size`
  workers, each registered under its group's name — the adapter name,
  then `<adapter name>_2` … — and member of that group in the pg scope
  `Phoenix.PubSub`. A broadcast goes to the members on other nodes of one
  group of the first `broadcast_pool_size` ones, chosen by
  `:erlang.phash2(self(), broadcast_pool_size)`.
  """
  use Supervisor

  @scope Phoenix.PubSub

  @doc false
  def start_link(opts) do
    Supervisor.start_link(__MODULE__, opts, name: :"#{opts[:adapter_name]}_supervisor")
  end

  @impl true
  def init(opts) do
    adapter_name = opts[:adapter_name]
    pool_size = opts[:pool_size]
    broadcast_pool_size = opts[:broadcast_pool_size]

    if pool_size < broadcast_pool_size do
      raise ArgumentError, "pool_size must be at least broadcast_pool_size"
    end

    senders = group_names(adapter_name, broadcast_pool_size)
    :persistent_term.put(adapter_name, List.to_tuple(senders))

    workers =
      for group <- group_names(adapter_name, pool_size) do
        Supervisor.child_spec({Phoenix.PubSub.PG2Worker, {opts[:name], group}}, id: group)
      end

    Supervisor.init(workers, strategy: :one_for_one)
  end

  @doc "The first `n` group names."
  def group_names(adapter_name, n) do
    [adapter_name | for(i <- 2..n//1, do: :"#{adapter_name}_#{i}")]
  end

  @doc false
  def broadcast(adapter_name, topic, message, dispatcher) do
    forward = {:forward_to_local, topic, message, dispatcher}

    for pid <- :pg.get_members(@scope, sender_group(adapter_name)), node(pid) != node() do
      send(pid, forward)
    end

    :ok
  end

  @doc false
  def direct_broadcast(adapter_name, node, topic, message, dispatcher) do
    send({sender_group(adapter_name), node}, {:forward_to_local, topic, message, dispatcher})
    :ok
  end

  defp sender_group(adapter_name) do
    groups = :persistent_term.get(adapter_name)
    elem(groups, :erlang.phash2(self(), tuple_size(groups)))
  end
end

defmodule Phoenix.PubSub.PG2Worker do
  @moduledoc false
  # One per group: joins it, and hands what other nodes forward to the
  # local subscribers.
  use GenServer

  def start_link({pubsub, group}) do
    GenServer.start_link(__MODULE__, {pubsub, group}, name: group)
  end

  @impl true
  def init({pubsub, group}) do
    :ok = :pg.join(Phoenix.PubSub, group, self())
    {:ok, pubsub}
  end

  @impl true
  def handle_info({:forward_to_local, topic, message, dispatcher}, pubsub) do
    Phoenix.PubSub.local_broadcast(pubsub, topic, message, dispatcher)
    {:noreply, pubsub}
  end

  def handle_info(_other, pubsub), do: {:noreply, pubsub}
end
