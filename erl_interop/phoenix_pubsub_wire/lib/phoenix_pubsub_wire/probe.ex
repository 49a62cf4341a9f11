defmodule PhoenixPubSubWire.Probe do
  @moduledoc """
  What the interop tests call over rpc: subscriber processes that keep
  every message they receive.
  """

  @doc "Spawns a process subscribed to `topic`; returns its pid."
  def subscriber(pubsub, topic) do
    parent = self()

    pid =
      spawn(fn ->
        :ok = Phoenix.PubSub.subscribe(pubsub, topic)
        send(parent, {:subscribed, self()})
        collect([])
      end)

    receive do
      {:subscribed, ^pid} -> pid
    after
      5000 -> exit(:subscribe_timeout)
    end
  end

  @doc "The messages `pid` received so far, oldest first."
  def messages(pid), do: ask(pid, :messages)

  @doc "`pid` unsubscribes from `topic`."
  def unsubscribe(pid, pubsub, topic), do: ask(pid, {:unsubscribe, pubsub, topic})

  @doc "`pid` broadcasts with `Phoenix.PubSub.broadcast_from/4`."
  def broadcast_from(pid, pubsub, topic, message),
    do: ask(pid, {:broadcast_from, pubsub, topic, message})

  defp ask(pid, request) do
    ref = make_ref()
    send(pid, {:"$probe", self(), ref, request})

    receive do
      {^ref, answer} -> answer
    after
      5000 -> exit(:probe_timeout)
    end
  end

  defp collect(acc) do
    receive do
      {:"$probe", from, ref, request} ->
        send(from, {ref, answer(request, acc)})
        collect(acc)

      message ->
        collect([message | acc])
    end
  end

  defp answer(:messages, acc), do: Enum.reverse(acc)
  defp answer({:unsubscribe, pubsub, topic}, _), do: Phoenix.PubSub.unsubscribe(pubsub, topic)

  defp answer({:broadcast_from, pubsub, topic, message}, _),
    do: Phoenix.PubSub.broadcast_from(pubsub, self(), topic, message)
end
