// Marks the current page in the navigation.
document.querySelectorAll("header nav a").forEach(function (link) {
  if (link.getAttribute("href") === location.pathname) { link.style.fontWeight = "bold"; }
});
