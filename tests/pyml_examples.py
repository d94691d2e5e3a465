"""Pyml sources shared by the engine's unit tests and the end-to-end template tests."""

# The example of spec §10.4: every construct a typical view uses.
SPEC_EXAMPLE = """\
@{ krait.set_content_type(ext="html") }
@import ".view/layout_top.html"
<p>Hello, @ctrl.user_name@! You have @ctrl.unread messages.</p>
<ul>
@for title, url in ctrl.links:
    <li><a href="@url@">@title@</a></li>
@/for
</ul>
@{
    greeting = "Good morning" if ctrl.hour < 12 else "Hello"
    css = 'class="late"' if ctrl.hour > 22 else ""
}
<h2 @!css@>@greeting@</h2>
@if ctrl.items:
  <p>@(len(ctrl.items)) items, first: @ctrl.items[0]@</p>
@else:
  <p>Nothing yet. Write to us at help@@example.org.</p>
@/if
<span id="row-@ctrl.row_id@-label">@ctrl.label@</span>
@import-ctrl ctrl.sidebar
"""
