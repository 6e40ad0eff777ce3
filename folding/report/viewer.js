/* The report's 3D viewer: 3Dmol.js (embedded above), models and settings from the
   JSON block #report-data. Colours by pLDDT with AlphaFold's bands, by chain, or as a
   rainbow along the chain. Sets document.body.dataset.viewer to "ready" (with
   dataset.model) once a model is drawn, or "unavailable" without WebGL. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var element = document.getElementById("viewer");
  var status = document.getElementById("viewer-status");
  var modelSelect = document.getElementById("model-select");
  var colourSelect = document.getElementById("colour-select");
  var styleSelect = document.getElementById("style-select");
  if (!element || !data.models.length) { return; }

  function plddtColour(atom) {
    for (var i = 0; i < data.bands.length; i++) {
      if (atom.b >= data.bands[i][0]) { return data.bands[i][1]; }
    }
    return data.bands[data.bands.length - 1][1];
  }

  function colourSpec() {
    if (colourSelect.value === "chain") { return { colorscheme: "chain" }; }
    if (colourSelect.value === "rainbow") { return { color: "spectrum" }; }
    return { colorfunc: plddtColour };
  }

  var viewer = null;
  try {
    viewer = $3Dmol.createViewer(element, { backgroundColor: "white", antialias: true });
  } catch (error) {
    viewer = null;
  }
  if (!viewer) {
    status.textContent = "The 3D viewer needs WebGL, which this browser does not provide.";
    document.body.dataset.viewer = "unavailable";
    return;
  }

  function applyStyle() {
    var spec = colourSpec();
    var style = {};
    if (styleSelect.value === "sticks") {
      style.stick = Object.assign({ radius: 0.2 }, spec);
    } else {
      style.cartoon = Object.assign({}, spec);
      if (styleSelect.value === "cartoon+sidechains") {
        viewer.setStyle({}, style);
        viewer.addStyle({ not: { atom: ["N", "C", "O"] } },
                        { stick: Object.assign({ radius: 0.15 }, spec) });
        return;
      }
    }
    viewer.setStyle({}, style);
  }

  function showModel(index) {
    var model = data.models[index];
    viewer.removeAllModels();
    viewer.removeAllLabels();
    viewer.addModel(model.pdb, "pdb");
    applyStyle();
    viewer.setHoverable({}, true, function (atom, view) {
      if (!atom.label) {
        atom.label = view.addLabel(
          atom.resn + " " + atom.chain + atom.resi + "  pLDDT " + atom.b.toFixed(1),
          { position: atom, backgroundColor: "#1d2230", fontColor: "white", fontSize: 12 });
      }
    }, function (atom, view) {
      if (atom.label) { view.removeLabel(atom.label); delete atom.label; }
    });
    viewer.zoomTo();
    viewer.render();
    status.textContent = "rank " + model.rank + ": " + model.name + " (" +
      (model.relaxed ? "relaxed" : "unrelaxed") + "), mean pLDDT " + model.mean_plddt.toFixed(1);
    document.body.dataset.model = model.name;
    document.body.dataset.viewer = "ready";
  }

  modelSelect.addEventListener("change", function () { showModel(Number(modelSelect.value)); });
  colourSelect.addEventListener("change", function () { applyStyle(); viewer.render(); });
  styleSelect.addEventListener("change", function () { applyStyle(); viewer.render(); });
  window.addEventListener("resize", function () { viewer.resize(); viewer.render(); });
  window.foldingReport = { viewer: viewer, showModel: showModel };
  showModel(0);
}());
