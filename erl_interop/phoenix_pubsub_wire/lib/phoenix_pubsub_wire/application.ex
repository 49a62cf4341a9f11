defmodule PhoenixPubSubWire.Application do
  @moduledoc false
  # As phoenix_pubsub's own application: the pg scope `Phoenix.PubSub`
  # that every PubSub of the node uses. Then the PubSubs listed in the
  # application environment `pubsubs` (keyword lists of options).
  use Application

  @impl true
  def start(_type, _args) do
    scope = %{id: :pg, start: {:pg, :start_link, [Phoenix.PubSub]}}

    pubsubs =
      for opts <- Application.get_env(:phoenix_pubsub_wire, :pubsubs, []) do
        Phoenix.PubSub.child_spec(opts)
      end

    Supervisor.start_link([scope | pubsubs],
      strategy: :one_for_one,
      name: PhoenixPubSubWire.Supervisor
    )
  end
end
