defmodule Phoenix.PubSub do
  @moduledoc """
  The public API of Phoenix.PubSub (phoenix_pubsub 2.2.0) over its PG2
  adapter, written for the interop tests. Subscriptions live in a
  `Registry` with duplicate keys named after the PubSub; this module is
  also the default dispatcher (`dispatch/3`), whose name travels in every
  `{:forward_to_local, topic, message, dispatcher}`.
  """

  @doc "A child spec for `name:`, `pool_size:` (default 1), `broadcast_pool_size:`."
  def child_spec(opts) do
    %{
      id: Keyword.fetch!(opts, :name),
      start: {__MODULE__, :start_link, [opts]},
      type: :supervisor
    }
  end

  @doc false
  def start_link(opts) do
    name = Keyword.fetch!(opts, :name)
    pool_size = Keyword.get(opts, :pool_size, 1)
    adapter_name = Module.concat(name, "Adapter")

    adapter_opts = [
      name: name,
      adapter_name: adapter_name,
      pool_size: pool_size,
      broadcast_pool_size: Keyword.get(opts, :broadcast_pool_size, pool_size)
    ]

    children = [
      {Registry, keys: :duplicate, name: name, meta: [adapter_name: adapter_name]},
      {Phoenix.PubSub.PG2, adapter_opts}
    ]

    Supervisor.start_link(children,
      strategy: :rest_for_one,
      name: Module.concat(name, "Supervisor")
    )
  end

  @doc "The calling process receives what is broadcast on `topic`."
  def subscribe(pubsub, topic, opts \\ []) when is_atom(pubsub) and is_binary(topic) do
    case Registry.register(pubsub, topic, opts[:metadata]) do
      {:ok, _owner} -> :ok
      {:error, _} = error -> error
    end
  end

  @doc "Drops the calling process's subscriptions to `topic`."
  def unsubscribe(pubsub, topic) when is_atom(pubsub) and is_binary(topic) do
    Registry.unregister(pubsub, topic)
  end

  @doc "Every subscriber of `topic` on every node receives `message`."
  def broadcast(pubsub, topic, message, dispatcher \\ __MODULE__) do
    with :ok <- Phoenix.PubSub.PG2.broadcast(adapter(pubsub), topic, message, dispatcher) do
      deliver(pubsub, :none, topic, message, dispatcher)
    end
  end

  @doc "As `broadcast/4`, except to `from`."
  def broadcast_from(pubsub, from, topic, message, dispatcher \\ __MODULE__) when is_pid(from) do
    with :ok <- Phoenix.PubSub.PG2.broadcast(adapter(pubsub), topic, message, dispatcher) do
      deliver(pubsub, from, topic, message, dispatcher)
    end
  end

  @doc "The subscribers on this node only."
  def local_broadcast(pubsub, topic, message, dispatcher \\ __MODULE__) do
    deliver(pubsub, :none, topic, message, dispatcher)
  end

  @doc "As `local_broadcast/4`, except to `from`."
  def local_broadcast_from(pubsub, from, topic, message, dispatcher \\ __MODULE__) do
    deliver(pubsub, from, topic, message, dispatcher)
  end

  @doc "The subscribers on `node` only."
  def direct_broadcast(node, pubsub, topic, message, dispatcher \\ __MODULE__) do
    Phoenix.PubSub.PG2.direct_broadcast(adapter(pubsub), node, topic, message, dispatcher)
  end

  @doc "The default dispatcher: every entry's pid but `from` gets `message`."
  def dispatch(entries, from, message) do
    for {pid, _metadata} <- entries, pid != from, do: send(pid, message)
    :ok
  end

  defp adapter(pubsub) do
    {:ok, adapter_name} = Registry.meta(pubsub, :adapter_name)
    adapter_name
  end

  defp deliver(pubsub, from, topic, message, dispatcher) do
    Registry.dispatch(pubsub, topic, {dispatcher, :dispatch, [from, message]})
    :ok
  end
end
